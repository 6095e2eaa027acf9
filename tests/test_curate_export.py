"""`curate export`: seed-identical pixels, manifest, splits, byte-identical reruns, refusals."""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageOps
from skimage import data as samples

from catalog.checks import ok_image_hashes
from catalog.duplicates import DuplicateJudgment, replace_duplicates
from catalog.harvest import FetchResult, record_fetches
from catalog.reviews import record_decision
from curate.check import CheckOptions, check_images
from curate.cli import cli
from curate.export import (
    EmptyExport,
    ExportOptions,
    InvalidExportName,
    export_dataset,
    split_of,
)
from curate.preprocess import PreprocessOptions, Preprocessor
from synthset.export_format import ExportExists, ExportNotReplaced

WNID = "n07631926"


# --- real image bytes -------------------------------------------------------------------------


def _encode(rgb: np.ndarray, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, fmt, **params)
    return buffer.getvalue()


def _exif_rotated_jpeg(rgb: np.ndarray) -> bytes:
    """A JPEG whose EXIF says 'rotate 90 CW to display' (orientation 6)."""
    image = Image.fromarray(rgb)
    exif = image.getexif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def _animated_gif(rgb: np.ndarray) -> bytes:
    frames = [Image.fromarray(np.roll(rgb, shift, axis=1)) for shift in (0, 40, 80)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def photos() -> dict[str, bytes]:
    """Real photographs (scikit-image samples) in the encodings and shapes an export meets.

    Odd differences between the sides check the crop offset; PCX is a format OpenCV
    cannot read, so it exercises the Pillow fallback.
    """
    return {
        "landscape.jpg": _encode(samples.coffee(), "JPEG", quality=90),  # 400 x 600
        "portrait.png": _encode(samples.astronaut()[:, 100:399], "PNG"),  # 512 x 299
        "gray.jpg": _encode(samples.camera()[:, :371], "JPEG", quality=85),  # 512 x 371 L
        "exif.jpg": _exif_rotated_jpeg(samples.chelsea()),  # 451 x 300 once rotated
        "frames.gif": _animated_gif(samples.rocket()[::3, ::3]),
        "fallback.pcx": _encode(samples.immunohistochemistry()[:301, :256], "PCX"),
        "big.jpg": _encode(samples.hubble_deep_field(), "JPEG", quality=80),  # 872 x 1000
        "coins.png": _encode(samples.coins(), "PNG"),  # 303 x 384 L
    }


def add_photos(catalog, items: dict[str, bytes]) -> dict[str, str]:
    """Record each body as fetched from two URLs; return name -> sha256."""
    results = []
    for name, body in items.items():
        for host in ("a", "b"):
            url = f"http://{host}.example/{name}"
            results.append(FetchResult(url, "imagenet", WNID, http_status=200, body=body))
    record_fetches(catalog, results)
    return {name: hashlib.sha256(body).hexdigest() for name, body in items.items()}


def check(catalog) -> None:
    """The real `curate check`; every photo of :func:`photos` is judged ok."""
    report = check_images(catalog, CheckOptions(workers=1))
    assert report.statuses["ok"] == report.checked, report.statuses


def accept_all(catalog, shas) -> None:
    for sha256 in shas:
        record_decision(catalog, sha256, "accept")


@pytest.fixture
def accepted(catalog):
    """A catalog whose photos are all ok and accepted; yields (catalog, name -> sha256)."""
    shas = add_photos(catalog, photos())
    check(catalog)
    accept_all(catalog, shas.values())
    return catalog, shas


# --- an independent implementation of the seed's steps ----------------------------------------


def seed_pixels(path: Path, size: int = 100, interpolation: int = cv2.INTER_LINEAR,
                rgb: bool = False) -> np.ndarray:
    """The seed's loop, written out again: imread, colour, centre crop, resize."""
    image = cv2.imread(str(path))
    if image is None:  # formats OpenCV lacks: Pillow, EXIF-transposed, as BGR
        with Image.open(path) as opened:
            pil_rgb = np.asarray(ImageOps.exif_transpose(opened).convert("RGB"))
        image = pil_rgb[:, :, ::-1].copy()
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB if rgb else cv2.COLOR_BGR2GRAY)
    height, width = image.shape[:2]
    if height > width:
        start = (height - width) // 2
        image = image[start : start + width]
    elif width > height:
        start = (width - height) // 2
        image = image[:, start : start + height]
    return cv2.resize(image, (size, size), interpolation=interpolation)


def store_path(catalog, sha256: str) -> Path:
    (path,) = catalog.conn.execute("SELECT path FROM images WHERE sha256 = ?", (sha256,)).fetchone()
    return catalog.store.absolute(path)


def read_manifest(folder: Path) -> list[dict[str, str]]:
    with open(folder / "manifest.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


# --- pixels -----------------------------------------------------------------------------------


def test_default_export_is_pixel_identical_to_the_seed_loop(accepted, tmp_path):
    catalog, shas = accepted
    report = export_dataset(catalog, "cakes", ExportOptions(out=tmp_path, workers=2))
    folder = tmp_path / "cakes"
    assert report.total == len(shas) and not report.skipped
    rows = read_manifest(folder)
    assert [r["sha256"] for r in rows] == sorted(shas.values())
    cache = np.load(folder / "pixels.npy", allow_pickle=False)
    assert cache.shape == (len(shas), 100, 100, 1) and cache.dtype == np.uint8
    for row in rows:
        expected = seed_pixels(store_path(catalog, row["sha256"]))
        with Image.open(folder / row["file"]) as png:
            assert png.mode == "L" and png.size == (100, 100)
            got = np.asarray(png)
        name = next(k for k, v in shas.items() if v == row["sha256"])
        assert np.array_equal(got, expected), f"{name} differs from the seed's pixels"
        assert np.array_equal(cache[int(row["index"]), :, :, 0], expected)


def test_exif_orientation_is_applied(accepted):
    catalog, shas = accepted
    pixels = Preprocessor(PreprocessOptions(size=50))(store_path(catalog, shas["exif.jpg"]))
    upright = cv2.cvtColor(samples.chelsea(), cv2.COLOR_RGB2GRAY)
    rotated = np.rot90(upright, k=-1)  # orientation 6: displayed rotated 90 degrees clockwise
    for source, should_match in ((rotated, True), (upright, False)):
        expected = cv2.resize(seed_crop(source), (50, 50), interpolation=cv2.INTER_LINEAR)
        difference = np.abs(pixels[:, :, 0].astype(int) - expected).mean()
        assert bool(difference < 4) == should_match, difference


def seed_crop(image: np.ndarray) -> np.ndarray:
    side = min(image.shape[:2])
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    return np.ascontiguousarray(image[top : top + side, left : left + side])


def test_rgb_area_and_size_options_match_the_seed_steps(accepted, tmp_path):
    catalog, shas = accepted
    options = ExportOptions(out=tmp_path, size=48, color="rgb", interpolation="area", workers=1)
    export_dataset(catalog, "rgb", options)
    meta = json.loads((tmp_path / "rgb" / "export.json").read_text())
    assert (meta["size"], meta["color"], meta["channels"]) == ([48, 48], "rgb", 3)
    assert np.load(tmp_path / "rgb" / "pixels.npy").shape == (len(shas), 48, 48, 3)
    for row in read_manifest(tmp_path / "rgb"):
        with Image.open(tmp_path / "rgb" / row["file"]) as png:
            assert png.mode == "RGB" and png.size == (48, 48)
            got = np.asarray(png)
        expected = seed_pixels(store_path(catalog, row["sha256"]), 48, cv2.INTER_AREA, rgb=True)
        assert np.array_equal(got, expected)


def test_reduced_decode_is_close_and_never_decodes_below_the_target(catalog, tmp_path):
    big = _encode(samples.retina(), "JPEG", quality=90)  # 1411 px: decodable at 1/8 -> 177
    small = _encode(samples.coffee()[:150, :200], "JPEG", quality=90)  # 150 px: 1/2 is < 100
    shas = add_photos(catalog, {"big.jpg": big, "small.jpg": small})
    default = Preprocessor(PreprocessOptions())
    reduced = Preprocessor(PreprocessOptions(reduced_decode=True))
    big_default = default(store_path(catalog, shas["big.jpg"])).astype(int)
    big_reduced = reduced(store_path(catalog, shas["big.jpg"])).astype(int)
    assert 0 < np.abs(big_default - big_reduced).mean() < 3
    small_path = store_path(catalog, shas["small.jpg"])
    assert np.array_equal(default(small_path), reduced(small_path))  # not reduced below 100


def test_undecodable_image_is_skipped_and_the_export_goes_on(accepted, tmp_path):
    catalog, shas = accepted
    store_path(catalog, shas["big.jpg"]).write_bytes(b"\xff\xd8\xff" + b"rotten" * 50)
    report = export_dataset(catalog, "cakes", ExportOptions(out=tmp_path, workers=2))
    assert set(report.skipped) == {shas["big.jpg"]}
    assert report.total == len(shas) - 1
    rows = read_manifest(tmp_path / "cakes")
    assert [r["index"] for r in rows] == [str(i) for i in range(len(shas) - 1)]
    meta = json.loads((tmp_path / "cakes" / "export.json").read_text())
    assert meta["counts"]["skipped"] == 1 and meta["skipped"][0]["sha256"] == shas["big.jpg"]


# --- manifest, splits, metadata ---------------------------------------------------------------


def test_manifest_rows_and_export_json(accepted, tmp_path):
    catalog, shas = accepted
    export_dataset(catalog, "cakes", ExportOptions(out=tmp_path, workers=1, val_fraction=0.5))
    folder = tmp_path / "cakes"
    assert (folder / "manifest.csv").read_text().splitlines()[0] == (  # new columns go last
        "index,file,sha256,url,wnid,source,split,license,license_url,creator,landing_url,"
        "attribution,credit,attribution_required,usage_terms,restrictions,upstream_source,"
        "provider,mature"
    )
    rows = read_manifest(folder)
    names = {v: k for k, v in shas.items()}
    for index, row in enumerate(rows):
        expected = "val" if int(row["sha256"][:8], 16) / 2**32 < 0.5 else "train"
        assert row["split"] == expected
        folder_name = {"train": "train", "val": "validation"}[expected]
        assert row["index"] == str(index)
        assert row["file"] == f"images/{folder_name}/{index:05d}.png"
        assert row["url"] == f"http://a.example/{names[row['sha256']]}"  # one URL per image
        assert (row["wnid"], row["source"]) == (WNID, "imagenet")
        assert row["license"] == row["creator"] == row["attribution"] == ""  # none recorded
    pngs = sorted(str(p.relative_to(folder)) for p in (folder / "images").rglob("*.png"))
    assert pngs == sorted(r["file"] for r in rows)
    meta = json.loads((folder / "export.json").read_text())
    val = sum(r["split"] == "val" for r in rows)
    assert meta["counts"] == {"total": len(rows), "train": len(rows) - val, "val": val,
                              "skipped": 0}
    assert 0 < val < len(rows)  # the fixture has both sides at 0.5
    assert meta["format_version"] == 2 and meta["interpolation"] == "linear"
    assert meta["catalog"] == str(catalog.path.resolve()) and meta["created_at"]
    assert meta["synthset_version"] and meta["val_fraction"] == 0.5
    assert meta["license_filter"] == [] and meta["left_out"]["by_rule"] == {
        "unknown": 0, "not_selected": 0}
    listing = [f"{hashlib.sha256((folder / 'manifest.csv').read_bytes()).hexdigest()}  "
               "manifest.csv\n"]
    listing += [f"{hashlib.sha256((folder / r['file']).read_bytes()).hexdigest()}  {r['file']}\n"
                for r in rows]
    listing.append(f"{hashlib.sha256((folder / 'pixels.npy').read_bytes()).hexdigest()}  "
                   "pixels.npy\n")
    assert meta["content_sha256"] == hashlib.sha256("".join(listing).encode()).hexdigest()


def test_split_depends_on_the_content_hash_only():
    low, high = "0" * 8 + "a" * 56, "f" * 64
    assert split_of(low, 0.1) == "val" and split_of(high, 0.1) == "train"
    assert split_of(high, 1.0) == "val" and split_of(low, 0.0) == "train"
    assert split_of("19999999" + "f" * 56, 0.1) == "val"  # 0x19999999 / 2**32 < 0.1
    assert split_of("1999999a" + "0" * 56, 0.1) == "train"  # 0x1999999a / 2**32 > 0.1


def test_same_image_keeps_its_split_across_exports(accepted, tmp_path):
    catalog, shas = accepted
    export_dataset(catalog, "all", ExportOptions(out=tmp_path, workers=1, val_fraction=0.5))
    record_decision(catalog, shas["big.jpg"], "reject")
    export_dataset(catalog, "fewer", ExportOptions(out=tmp_path, workers=1, val_fraction=0.5))
    splits = {r["sha256"]: r["split"] for r in read_manifest(tmp_path / "all")}
    fewer = read_manifest(tmp_path / "fewer")
    assert len(fewer) == len(splits) - 1
    assert all(splits[r["sha256"]] == r["split"] for r in fewer)


def test_reexport_is_byte_identical_whatever_the_worker_count(accepted, tmp_path):
    catalog, _ = accepted
    export_dataset(catalog, "cakes", ExportOptions(out=tmp_path, workers=1))
    one = tree_bytes(tmp_path / "cakes")
    export_dataset(catalog, "cakes", ExportOptions(out=tmp_path, workers=2, overwrite=True))
    two = tree_bytes(tmp_path / "cakes")
    meta_one, meta_two = json.loads(one.pop("export.json")), json.loads(two.pop("export.json"))
    assert one == two and {"README.md", "ATTRIBUTION.md", "manifest.csv"} <= set(one)
    assert meta_one.pop("run_id") != meta_two.pop("run_id")
    meta_one.pop("created_at"), meta_two.pop("created_at")
    assert meta_one == meta_two


# --- which images -----------------------------------------------------------------------------


def test_only_ok_kept_accepted_images_unless_unreviewed_are_included(catalog, tmp_path):
    bodies = photos()
    truncated = bodies["landscape.jpg"][: len(bodies["landscape.jpg"]) // 2]
    shas = add_photos(catalog, {**bodies, "truncated.jpg": truncated})
    kept = ("landscape.jpg", "big.jpg", "coins.png")
    dup, rejected, skipped, broken = "portrait.png", "gray.jpg", "exif.jpg", "truncated.jpg"
    undecided = ("frames.gif", "fallback.pcx")
    check_images(catalog, CheckOptions(workers=1))
    assert shas[broken] not in dict(ok_image_hashes(catalog))  # judged corrupt
    # TODO: the real `curate dedup` once it lands; this is its catalog write.
    replace_duplicates(catalog, [DuplicateJudgment(shas[dup], shas[kept[0]], "test")], "phash")
    for name in (*kept, dup, broken):
        record_decision(catalog, shas[name], "accept")
    record_decision(catalog, shas[rejected], "accept")
    record_decision(catalog, shas[rejected], "reject")  # the latest decision is in force
    record_decision(catalog, shas[skipped], "skip")

    export_dataset(catalog, "accepted", ExportOptions(out=tmp_path, workers=1))
    got = {r["sha256"] for r in read_manifest(tmp_path / "accepted")}
    assert got == {shas[n] for n in kept}

    export_dataset(catalog, "wide", ExportOptions(out=tmp_path, workers=1,
                                                  include_unreviewed=True))
    got = {r["sha256"] for r in read_manifest(tmp_path / "wide")}
    assert got == {shas[n] for n in (*kept, skipped, *undecided)}


def test_nothing_to_export_is_an_error_that_says_what_to_do(catalog, tmp_path):
    shas = add_photos(catalog, {"one.jpg": photos()["landscape.jpg"]})
    check(catalog)
    with pytest.raises(EmptyExport, match="curate review.*--include-unreviewed"):
        export_dataset(catalog, "cakes", ExportOptions(out=tmp_path))
    record_decision(catalog, shas["one.jpg"], "reject")
    with pytest.raises(EmptyExport, match="curate check"):
        export_dataset(catalog, "cakes", ExportOptions(out=tmp_path, include_unreviewed=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


# --- safety -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", ".hidden", "", "a\\b", "x..y", "/abs"])
def test_bad_names_are_refused_before_writing_anything(accepted, tmp_path, name):
    catalog, _ = accepted
    out = tmp_path / "out"
    with pytest.raises(InvalidExportName, match="no path separators"):
        export_dataset(catalog, name, ExportOptions(out=out))
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_a_symlinked_name_cannot_lead_outside_out(accepted, tmp_path):
    catalog, _ = accepted
    (tmp_path / "out").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "out" / "cakes").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(InvalidExportName, match="outside"):
        export_dataset(catalog, "cakes", ExportOptions(out=tmp_path / "out", overwrite=True))
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_existing_export_is_refused_then_replaced_with_overwrite(accepted, tmp_path):
    catalog, shas = accepted
    export_dataset(catalog, "cakes", ExportOptions(out=tmp_path, workers=1))
    (tmp_path / "cakes" / "mine.txt").write_text("keep me")
    with pytest.raises(ExportExists, match="cakes exists; pass --overwrite"):
        export_dataset(catalog, "cakes", ExportOptions(out=tmp_path, workers=1, size=32))
    assert (tmp_path / "cakes" / "mine.txt").exists()
    export_dataset(catalog, "cakes", ExportOptions(out=tmp_path, workers=1, size=32,
                                                   overwrite=True))
    assert not (tmp_path / "cakes" / "mine.txt").exists()
    with Image.open(tmp_path / "cakes" / read_manifest(tmp_path / "cakes")[0]["file"]) as png:
        assert png.size == (32, 32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cakes", "data"]  # no temp left


@pytest.mark.parametrize("victim", ["data", "notes.txt", "mine"])
def test_overwrite_never_replaces_what_is_not_an_export(accepted, tmp_path, victim):
    """``curate export data --out . --overwrite`` must not replace the data directory."""
    catalog, _ = accepted
    if victim == "notes.txt":
        (tmp_path / victim).write_text("keep me")
    elif victim == "mine":
        (tmp_path / victim).mkdir()
        (tmp_path / victim / "thesis.tex").write_text("keep me")
    before = tree_bytes(tmp_path / victim) if victim != "notes.txt" else None
    with pytest.raises(ExportExists, match="is not an export"):
        export_dataset(catalog, victim, ExportOptions(out=tmp_path, workers=1, overwrite=True))
    if victim == "notes.txt":
        assert (tmp_path / victim).read_text() == "keep me"
    else:
        assert tree_bytes(tmp_path / victim) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder
    (tmp_path / "empty").mkdir()  # control: an empty folder is replaced
    export_dataset(catalog, "empty", ExportOptions(out=tmp_path, workers=1, overwrite=True))
    assert (tmp_path / "empty" / "export.json").is_file()


def test_an_interrupted_export_leaves_nothing_behind(accepted, tmp_path):
    catalog, _ = accepted

    def crash(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_dataset(catalog, "cakes", ExportOptions(out=tmp_path, workers=2), progress=crash)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no target, no temp folder
    (stats,) = catalog.conn.execute("SELECT stats FROM runs WHERE command = 'export'").fetchone()
    assert "KeyboardInterrupt" in json.loads(stats)["error"]


@pytest.mark.timeout(60)
def test_a_worker_that_dies_fails_the_export_instead_of_hanging(accepted, tmp_path, monkeypatch):
    catalog, shas = accepted
    real = Preprocessor.__call__

    def crash_on_big(self, path):
        if Path(path).stem == shas["big.jpg"]:
            os._exit(1)  # what a decoder segfault or the OOM killer looks like to the pool
        return real(self, path)

    monkeypatch.setattr(Preprocessor, "__call__", crash_on_big)  # forked workers inherit it
    with pytest.raises(BrokenProcessPool):
        export_dataset(catalog, "cakes", ExportOptions(out=tmp_path, workers=2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_leftovers_of_killed_exports_are_swept_once_stale(accepted, tmp_path):
    catalog, _ = accepted
    stale, fresh = tmp_path / ".cakes.tmp-old", tmp_path / ".cakes.tmp-running"
    for folder in (stale, fresh):
        (folder / "images").mkdir(parents=True)
    os.utime(stale, (1_000_000_000, 1_000_000_000))  # 2001: long dead
    export_dataset(catalog, "cakes", ExportOptions(out=tmp_path, workers=1))
    assert not stale.exists() and fresh.exists()  # a concurrent export's folder is left alone


def _failing_final_rename(monkeypatch, target: Path, before=None) -> list[str]:
    """Make only the rename of the finished temporary folder onto ``target`` fail.

    ``before(target)`` runs first (e.g. another process taking the name); without it the
    rename raises EIO. Every other rename is the real one. Returns the renames seen.
    """
    real, seen = os.rename, []

    def rename(src, dst, *args, **kwargs):
        seen.append(f"{Path(src).name} -> {Path(dst).name}")
        if Path(dst) == target and Path(src).name.startswith(f".{target.name}.tmp-"):
            if before is None:
                raise OSError(errno.EIO, "Input/output error", str(dst))
            before(target)
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", rename)
    return seen


def test_overwrite_puts_the_old_export_back_when_the_final_rename_fails(
    accepted, tmp_path, monkeypatch
):
    catalog, _ = accepted
    export_dataset(catalog, "cakes", ExportOptions(out=tmp_path, workers=1))
    before = tree_bytes(tmp_path / "cakes")
    seen = _failing_final_rename(monkeypatch, tmp_path / "cakes")
    with pytest.raises(ExportNotReplaced, match="previous export is unchanged"):
        export_dataset(catalog, "cakes", ExportOptions(out=tmp_path, workers=1, size=32,
                                                       overwrite=True))
    assert any(step.startswith(".cakes.tmp-") and step.endswith("-> cakes") for step in seen)
    assert tree_bytes(tmp_path / "cakes") == before  # the old export, byte for byte
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cakes", "data"]  # no .old-, no .tmp-
    monkeypatch.undo()  # control: the same export with a working rename replaces it
    export_dataset(catalog, "cakes", ExportOptions(out=tmp_path, workers=1, size=32,
                                                   overwrite=True))
    assert tree_bytes(tmp_path / "cakes") != before


def test_overwrite_keeps_the_old_export_when_its_name_is_taken_meanwhile(
    accepted, tmp_path, monkeypatch
):
    """Another process fills NAME between the two renames: the real rename fails (ENOTEMPTY)."""
    catalog, _ = accepted
    export_dataset(catalog, "cakes", ExportOptions(out=tmp_path, workers=1))
    before = tree_bytes(tmp_path / "cakes")

    def squat(target: Path) -> None:
        (target / "images").mkdir(parents=True)
        (target / "theirs.txt").write_text("another process")

    _failing_final_rename(monkeypatch, tmp_path / "cakes", before=squat)
    with pytest.raises(ExportNotReplaced, match=r"previous export was moved to .*cakes\.previous-"):
        export_dataset(catalog, "cakes", ExportOptions(out=tmp_path, workers=1, overwrite=True))
    (kept,) = tmp_path.glob("cakes.previous-*")
    assert tree_bytes(kept) == before
    assert (tmp_path / "cakes" / "theirs.txt").read_text() == "another process"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# --- the command ------------------------------------------------------------------------------


def test_cli_exports_records_a_run_and_refuses_to_overwrite(accepted, tmp_path, data_dir):
    catalog, shas = accepted
    out = tmp_path / "datasets"
    args = ["export", "cakes", "--data", str(data_dir), "--out", str(out), "--workers", "2"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert len(read_manifest(out / "cakes")) == len(shas)
    for png_path in sorted((out / "cakes" / "images").rglob("*.png")):  # any tool reads them
        with Image.open(png_path) as png:
            png.load()
            assert (png.format, png.mode, png.size) == ("PNG", "L", (100, 100))
    (run,) = catalog.conn.execute("SELECT * FROM runs WHERE command = 'export'").fetchall()
    assert run["finished_at"] and json.loads(run["stats"])["total"] == len(shas)
    assert json.loads(run["args"])["name"] == "cakes"

    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 1
    assert f"Error: {out / 'cakes'} exists; pass --overwrite" in again.output
    assert "Traceback" not in again.output
    bad = CliRunner().invoke(cli, ["export", "../up", "--data", str(data_dir), "--out", str(out)])
    assert bad.exit_code == 1 and "Error: export name '../up'" in bad.output


def test_cli_default_out_is_datasets_under_the_working_directory(accepted, data_dir, tmp_path,
                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["export", "cakes", "--data", str(data_dir),
                                      "--workers", "1", "--no-pixel-cache"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "datasets" / "cakes" / "manifest.csv").exists()
    assert not (tmp_path / "datasets" / "cakes" / "pixels.npy").exists()


@pytest.mark.timeout(60)
def test_parallel_export_after_opencv_used_its_threads_does_not_hang(accepted, tmp_path):
    """Guard: workers forked from a process whose OpenCV thread pool is running must work
    (the benchmark once hung with workers calling cv2.setNumThreads after such a fork)."""
    catalog, shas = accepted
    before = cv2.getNumThreads()
    cv2.setNumThreads(2)
    try:
        busy = np.random.default_rng(0).integers(0, 255, (2000, 3000), dtype=np.uint8)
        for _ in range(3):  # starts OpenCV's thread pool in this process
            cv2.resize(busy, (100, 100), interpolation=cv2.INTER_LINEAR)
        report = export_dataset(catalog, "cakes", ExportOptions(out=tmp_path, workers=2))
        assert report.total == len(shas)
        assert cv2.getNumThreads() == 2  # the parent's setting is restored
    finally:
        cv2.setNumThreads(before)


@pytest.mark.parametrize("out", ["a-file", "a-file/sub", "/proc/synthset-nope"])
def test_cli_unusable_out_is_one_error_line(accepted, tmp_path, data_dir, out):
    catalog, _ = accepted
    (tmp_path / "a-file").write_text("keep me")
    out_path = Path(out) if out.startswith("/") else tmp_path / out
    result = CliRunner().invoke(cli, ["export", "x", "--out", str(out_path), "--data",
                                      str(data_dir), "--workers", "1"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit
    errors = [line for line in result.output.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith(f"Error: --out {out_path}"), result.output
    assert (tmp_path / "a-file").read_text() == "keep me"
    runs = catalog.conn.execute("SELECT count(*) FROM runs WHERE command = 'export'").fetchone()
    assert runs[0] == 0  # refused before a run was started
    ok = CliRunner().invoke(cli, ["export", "x", "--out", str(tmp_path / "fine"), "--data",
                                  str(data_dir), "--workers", "1"])
    assert ok.exit_code == 0, ok.output  # control: a usable --out exports
