"""curate placeholder add/list: catalog placeholders that curate check then applies."""

from __future__ import annotations

import io

import imagegen
from click.testing import CliRunner
from PIL import Image, ImageDraw

from catalog import open_catalog
from catalog.harvest import FetchResult, record_fetches
from curate.cli import cli
from curate.placeholders import load_builtin, phash_of


def invoke(data_dir, *args: str):
    return CliRunner().invoke(cli, [*args], env={"SYNTHSET_DATA": str(data_dir)})


def host_stand_in(width: int, height: int) -> Image.Image:
    """Some host's own "image removed" picture: unlike any built-in one."""
    image = Image.new("RGB", (width, height), (30, 60, 120))
    draw = ImageDraw.Draw(image)
    draw.rectangle((width * 0.1, height * 0.6, width * 0.9, height * 0.8), fill=(250, 200, 0))
    draw.ellipse((width * 0.35, height * 0.1, width * 0.65, height * 0.5), fill=(255, 255, 255))
    return image


def status_of(data_dir, url: str) -> tuple[str, str]:
    with open_catalog(data_dir, create=False) as catalog:
        row = catalog.conn.execute(
            "SELECT i.status, i.reason FROM urls u JOIN images i ON i.sha256 = u.sha256 "
            "WHERE u.url = ?",
            (url,),
        ).fetchone()
        return row["status"], row["reason"]


def test_added_placeholder_applies_to_images_already_checked(tmp_path, data_dir):
    served = imagegen.encode(host_stand_in(400, 300), "JPEG", quality=75)
    with open_catalog(data_dir) as catalog:
        record_fetches(catalog, [
            FetchResult("http://h.test/removed.jpg", "imagenet", http_status=200, body=served),
            FetchResult("http://h.test/photo.jpg", "imagenet", http_status=200,
                        body=imagegen.jpeg(seed=4)),
        ])  # fmt: skip
    assert invoke(data_dir, "check", "--workers", "1").exit_code == 0
    assert status_of(data_dir, "http://h.test/removed.jpg")[0] == "ok"  # unknown so far: control

    sample = tmp_path / "removed.png"
    host_stand_in(800, 600).save(sample)  # the user's copy: other size, lossless
    added = invoke(data_dir, "placeholder", "add", str(sample), "--name", "host removed")
    assert added.exit_code == 0, added.output
    assert "'host removed'" in added.output and "added" in added.output
    with open_catalog(data_dir, create=False) as catalog:
        rows = catalog.conn.execute("SELECT hash, name FROM placeholders").fetchall()
    assert [(r["hash"], r["name"]) for r in rows] == [
        (phash_of(host_stand_in(800, 600)), "host removed")
    ]

    rerun = invoke(data_dir, "check", "--workers", "1")  # no --all: nothing left to decode
    assert rerun.exit_code == 0, rerun.output
    status, reason = status_of(data_dir, "http://h.test/removed.jpg")
    assert status == "placeholder" and "'host removed' (catalog)" in reason
    assert status_of(data_dir, "http://h.test/photo.jpg")[0] == "ok"


def test_adding_the_same_picture_twice_keeps_one_row(tmp_path, data_dir):
    open_catalog(data_dir).close()
    sample = tmp_path / "gone.png"
    host_stand_in(300, 300).save(sample)
    assert "added" in invoke(data_dir, "placeholder", "add", str(sample)).output
    again = invoke(data_dir, "placeholder", "add", str(sample), "--name", "other")
    assert again.exit_code == 0 and "already known" in again.output
    listed = invoke(data_dir, "placeholder", "list")
    assert listed.exit_code == 0, listed.output
    assert "gone.png" in listed.output and "built-in" in listed.output
    assert "other" not in listed.output


def test_adding_a_file_that_is_not_an_image_is_an_error(tmp_path, data_dir):
    open_catalog(data_dir).close()
    page = tmp_path / "page.jpg"
    page.write_bytes(imagegen.html())
    result = invoke(data_dir, "placeholder", "add", str(page))
    assert result.exit_code == 1
    assert result.output.startswith(
        f"Error: {page} is not a usable image (not_image: HTML document"
    )


def test_placeholder_add_without_a_catalog_is_an_error(tmp_path, data_dir):
    sample = tmp_path / "x.png"
    sample.write_bytes(imagegen.png())
    result = invoke(data_dir, "placeholder", "add", str(sample))
    assert result.exit_code == 1 and result.output.startswith("Error: no catalog at ")


def test_built_in_set_is_documented_and_matches_its_drawings():
    builtin = load_builtin()
    assert len(builtin) >= 10
    names = " ".join(p.name for p in builtin)
    assert "flickr-like" in names and "mirror photo-unavailable" in names
    drawn = Image.open(io.BytesIO(imagegen.placeholder(500, 374)))
    assert phash_of(drawn) in {p.phash for p in builtin}
