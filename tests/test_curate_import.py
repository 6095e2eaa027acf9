"""curate import: local image files into the catalog (source local), then checked."""

from __future__ import annotations

import os
from pathlib import Path

import imagegen
from click.testing import CliRunner

from catalog import open_catalog
from curate.cli import cli
from curate.importer import ImportOptions, import_images


def invoke(data_dir: Path, *args: str):
    return CliRunner().invoke(cli, [*args], env={"SYNTHSET_DATA": str(data_dir)})


def url_rows(data_dir: Path) -> dict[str, dict]:
    with open_catalog(data_dir, create=False) as catalog:
        rows = catalog.conn.execute(
            "SELECT u.url, u.source, u.wnid, u.content_type, u.sha256, i.status "
            "FROM urls u LEFT JOIN images i ON i.sha256 = u.sha256"
        )
        return {row["url"]: dict(row) for row in rows}


def picture_folder(root: Path) -> Path:
    """Pictures in nested folders, a duplicate, a non-image by extension and one by content."""
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.jpg").write_bytes(imagegen.jpeg(seed=1))
    (root / "sub" / "b.PNG").write_bytes(imagegen.png(seed=2))
    (root / "sub" / "deeper" / "c.gif").write_bytes(imagegen.animated_gif(seed=3))
    (root / "sub" / "a.jpg").write_bytes(imagegen.jpeg(seed=1))  # same bytes, other folder
    (root / "notes.txt").write_text("not a picture")
    (root / "fake.jpg").write_bytes(imagegen.html())
    (root / "folder.jpg").mkdir()  # a directory with an image extension is not a file
    return root


def test_import_records_local_files_recursively_then_check_judges_them(tmp_path, data_dir):
    root = picture_folder(tmp_path / "pictures")
    open_catalog(data_dir).close()
    result = invoke(data_dir, "import", str(root), "--wnid", "n07631926")
    assert result.exit_code == 0, result.output
    assert "5 of 5 image files recorded (4 new images, 0 skipped)" in result.output
    rows = url_rows(data_dir)
    expected = {
        (root / p).resolve().as_uri()
        for p in ("a.jpg", "sub/b.PNG", "sub/deeper/c.gif", "sub/a.jpg", "fake.jpg")
    }
    assert set(rows) == expected
    assert {r["source"] for r in rows.values()} == {"local"}
    assert {r["wnid"] for r in rows.values()} == {"n07631926"}
    assert rows[(root / "sub/b.PNG").resolve().as_uri()]["content_type"] == "image/png"
    assert (
        rows[(root / "a.jpg").resolve().as_uri()]["sha256"]
        == rows[(root / "sub/a.jpg").resolve().as_uri()]["sha256"]
    )
    checked = invoke(data_dir, "check", "--workers", "1")
    assert checked.exit_code == 0, checked.output
    statuses = {Path(url).name: row["status"] for url, row in url_rows(data_dir).items()}
    assert statuses == {"a.jpg": "ok", "b.PNG": "ok", "c.gif": "ok", "fake.jpg": "not_image"}


def test_import_again_is_idempotent(tmp_path, data_dir):
    root = picture_folder(tmp_path / "pictures")
    first = invoke(data_dir, "import", str(root), "--create")
    assert first.exit_code == 0, first.output
    before = url_rows(data_dir)
    again = invoke(data_dir, "import", str(root))
    assert again.exit_code == 0, again.output
    assert "(0 new images, 0 skipped)" in again.output
    assert url_rows(data_dir) == before
    with open_catalog(data_dir, create=False) as catalog:
        assert catalog.conn.execute("SELECT count(*) FROM images").fetchone()[0] == 4
        runs = catalog.conn.execute("SELECT command FROM runs").fetchall()
        assert [r[0] for r in runs] == ["import", "import"]


def test_unreadable_files_are_skipped_with_a_reason(tmp_path, data_dir):
    root = tmp_path / "pictures"
    root.mkdir()
    (root / "good.jpg").write_bytes(imagegen.jpeg(seed=5))
    (root / "dangling.jpg").symlink_to(root / "missing-target.jpg")
    result = invoke(data_dir, "import", str(root), "--create")
    assert result.exit_code == 0, result.output
    assert "1 of 2 image files recorded (1 new images, 1 skipped)" in result.output
    assert "dangling.jpg: No such file or directory" in result.output
    assert set(url_rows(data_dir)) == {(root / "good.jpg").resolve().as_uri()}


def test_import_without_a_catalog_is_an_error(tmp_path, data_dir):
    root = picture_folder(tmp_path / "pictures")
    result = invoke(data_dir, "import", str(root))
    assert result.exit_code == 1
    assert result.output == (f"Error: no catalog at {data_dir / 'catalog.db'}; add --create to "
                             "start one there with these files, or pass --data with a data "
                             "folder that has one\n")
    assert not data_dir.exists()


def test_import_of_a_missing_folder_is_a_usage_error(tmp_path, data_dir):
    open_catalog(data_dir).close()
    result = invoke(data_dir, "import", str(tmp_path / "nope"))
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_links_leading_outside_the_folder_are_skipped(tmp_path, data_dir):
    """A link inside DIR must not import (and store) a file from elsewhere."""
    secret = tmp_path / "elsewhere" / "secret.jpg"
    secret.parent.mkdir()
    secret.write_bytes(imagegen.jpeg(seed=7))
    root = tmp_path / "pictures"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "inside.jpg").write_bytes(imagegen.jpeg(seed=8))
    (root / "outside.jpg").symlink_to(secret)
    (root / "inside-link.jpg").symlink_to(root / "sub" / "inside.jpg")
    result = invoke(data_dir, "import", str(root), "--create")
    assert result.exit_code == 0, result.output
    assert "2 of 3 image files recorded (1 new images, 1 skipped)" in result.output
    assert "outside.jpg: a link to" in result.output and "outside the imported" in result.output
    assert set(url_rows(data_dir)) == {(root / "sub" / "inside.jpg").resolve().as_uri()}
    with open_catalog(data_dir, create=False) as catalog:
        assert catalog.conn.execute("SELECT count(*) FROM images").fetchone()[0] == 1


def test_a_fifo_named_like_an_image_is_skipped_not_read(tmp_path, data_dir):
    """Reading a FIFO would block the import forever."""
    root = tmp_path / "pictures"
    root.mkdir()
    (root / "good.jpg").write_bytes(imagegen.jpeg(seed=5))
    os.mkfifo(root / "pipe.jpg")
    result = invoke(data_dir, "import", str(root), "--create")
    assert result.exit_code == 0, result.output
    assert "pipe.jpg: not a regular file" in result.output
    assert set(url_rows(data_dir)) == {(root / "good.jpg").resolve().as_uri()}


def test_files_over_the_size_limit_are_skipped(tmp_path, data_dir):
    root = tmp_path / "pictures"
    root.mkdir()
    small, big = imagegen.jpeg(seed=5), imagegen.jpeg(seed=6) + b"\0" * (1024 * 1024)
    (root / "small.jpg").write_bytes(small)
    (root / "big.jpg").write_bytes(big)
    result = invoke(data_dir, "import", str(root), "--create", "--max-mb", "1")
    assert result.exit_code == 0, result.output
    assert "big.jpg: larger than the 1,048,576-byte limit" in result.output
    assert set(url_rows(data_dir)) == {(root / "small.jpg").resolve().as_uri()}
    result = invoke(data_dir, "import", str(root), "--max-mb", "2")  # control: now it fits
    assert result.exit_code == 0, result.output
    assert len(url_rows(data_dir)) == 2


def committed_while_importing(root: Path, data_dir: Path, options: ImportOptions) -> list[int]:
    """URL rows another connection sees committed after each file of an import."""
    seen: list[int] = []
    with open_catalog(data_dir) as catalog, open_catalog(data_dir) as reader:

        def progress(_phase: str, done: int, total: int) -> None:
            seen.append(reader.conn.execute("SELECT count(*) FROM urls").fetchone()[0])

        import_images(catalog, root, options, progress=progress)
    return seen


def test_batches_are_also_cut_by_bytes(tmp_path):
    """A batch is recorded once its bodies reach batch_bytes, so big files never pile up."""
    root = picture_folder(tmp_path / "pictures")  # 5 files with an image extension
    one_each = committed_while_importing(root, tmp_path / "a", ImportOptions(batch_bytes=1))
    assert one_each == [1, 2, 3, 4, 5]
    control = committed_while_importing(root, tmp_path / "b", ImportOptions())
    assert control == [0, 0, 0, 0, 5]
