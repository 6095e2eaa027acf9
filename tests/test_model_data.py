"""Reading exports (model.data) and writing them (model.datasets); no keras needed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from model.cli import cli
from model.data import load_export
from model.datasets import (
    FASHION_MNIST_DIR,
    draw_shapes,
    read_idx_images,
    write_export,
)
from model.errors import DatasetExists, EmptySplit, ExportMalformed, ExportNotFound


@pytest.fixture
def export(tmp_path: Path) -> Path:
    """A 12-train / 4-val gray 16x16 export of drawn shapes."""
    splits = {"train": draw_shapes(12, 16, 1, seed=1), "val": draw_shapes(4, 16, 1, seed=2)}
    write_export(tmp_path / "shapes", splits, source="shapes")
    return tmp_path / "shapes"


def rewrite_manifest(export: Path, change) -> None:
    """Apply ``change`` to every manifest row (or drop a column if it returns a new header)."""
    path = export / "manifest.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows = [change(dict(row)) for row in rows]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_load_export_reads_pixels_in_unit_range_by_split(export: Path):
    loaded = load_export(export)
    assert loaded.shape == (16, 16, 1)
    assert loaded.train.shape == (12, 16, 16, 1) and loaded.val.shape == (4, 16, 16, 1)
    assert loaded.train.dtype == np.float32
    assert loaded.train.min() >= 0.0 and loaded.train.max() <= 1.0
    expected = draw_shapes(12, 16, 1, seed=1).astype(np.float32) / 255.0
    np.testing.assert_allclose(loaded.train, expected)
    assert loaded.dataset_hash == load_export(export).dataset_hash


def test_rgb_export_round_trips(tmp_path: Path):
    images = draw_shapes(5, 12, 3, seed=3)
    write_export(tmp_path / "rgb", {"train": images, "val": images[:2]})
    loaded = load_export(tmp_path / "rgb")
    assert loaded.shape == (12, 12, 3)
    assert json.loads((tmp_path / "rgb" / "export.json").read_text())["color"] == "rgb"
    np.testing.assert_allclose(loaded.val, images[:2] / 255.0)


def test_dataset_hash_changes_with_the_images(export: Path, tmp_path: Path):
    other = write_export(
        tmp_path / "other", {"train": draw_shapes(12, 16, 1, seed=9), "val": draw_shapes(4, 16)}
    )
    assert load_export(other.path).dataset_hash != load_export(export).dataset_hash


def test_missing_export_folder(tmp_path: Path):
    with pytest.raises(ExportNotFound, match="no export at"):
        load_export(tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["export.json", "manifest.csv"])
def test_missing_export_file(export: Path, name: str):
    (export / name).unlink()
    with pytest.raises(ExportNotFound, match=name):
        load_export(export)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"format_version": 3, "size": [16, 16], "channels": 1}', "format_version 3"),
        ('{"format_version": 1, "size": [16], "channels": 1}', "size must be"),
        ('{"format_version": 1, "size": [16, 16], "channels": 2}', "channels must be 1 or 3"),
    ],
)
def test_malformed_export_json(export: Path, text: str, message: str):
    (export / "export.json").write_text(text)
    with pytest.raises(ExportMalformed, match=message):
        load_export(export)


def test_manifest_without_split_column(export: Path):
    rewrite_manifest(export, lambda row: {k: v for k, v in row.items() if k != "split"})
    with pytest.raises(ExportMalformed, match="lacks column"):
        load_export(export)


def test_manifest_with_unknown_split(export: Path):
    rewrite_manifest(export, lambda row: {**row, "split": "test"})
    with pytest.raises(ExportMalformed, match="split 'test' is not train or val"):
        load_export(export)


def test_listed_image_missing(export: Path):
    (export / "images" / "train" / "00003.png").unlink()
    with pytest.raises(ExportMalformed, match="00003.png is listed in manifest.csv but missing"):
        load_export(export)


def test_image_of_the_wrong_size(export: Path, tmp_path: Path):
    (export / "pixels.npy").unlink()  # else the cache is read, not the PNGs
    write_export(tmp_path / "big", {"train": draw_shapes(1, 20, 1)})
    big = (tmp_path / "big/images/train/00000.png").read_bytes()
    (export / "images/train/00001.png").write_bytes(big)
    with pytest.raises(ExportMalformed, match="00001.png is 20x20, export.json says 16x16"):
        load_export(export)


def test_image_that_is_not_an_image(export: Path):
    (export / "pixels.npy").unlink()
    (export / "images" / "train" / "00002.png").write_bytes(b"<html>not a png</html>")
    with pytest.raises(ExportMalformed, match="00002.png is not a readable image"):
        load_export(export)


def test_empty_validation_split_is_a_clear_error(tmp_path: Path):
    write_export(tmp_path / "trainonly", {"train": draw_shapes(3, 8)})
    loaded = load_export(tmp_path / "trainonly")
    assert len(loaded.require_train()) == 3
    with pytest.raises(EmptySplit, match="no validation images"):
        loaded.require_val()


def test_write_export_refuses_to_overwrite(export: Path):
    with pytest.raises(DatasetExists, match="--overwrite"):
        write_export(export, {"train": draw_shapes(2, 16)})
    write_export(export, {"train": draw_shapes(2, 16)}, overwrite=True)
    assert len(load_export(export).train) == 2


def test_fashion_mnist_converter_on_debian_files(tmp_path: Path):
    out = tmp_path / "fm"
    result = CliRunner().invoke(
        cli, ["datasets", "fashion-mnist", "--out", str(out), "--limit", "30"]
    )
    assert result.exit_code == 0, result.output
    loaded = load_export(out)
    assert loaded.shape == (28, 28, 1)
    assert (len(loaded.train), len(loaded.val)) == (30, 30)
    raw_train = read_idx_images(FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz", limit=30)
    raw_test = read_idx_images(FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz", limit=30)
    np.testing.assert_array_equal(np.rint(loaded.train[..., 0] * 255).astype(np.uint8), raw_train)
    np.testing.assert_array_equal(np.rint(loaded.val[..., 0] * 255).astype(np.uint8), raw_test)
    with (out / "manifest.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["source"] == "fashion-mnist" and rows[0]["url"].endswith("#0")
    meta = json.loads((out / "export.json").read_text())
    assert meta["counts"] == {"total": 60, "train": 30, "val": 30}

    again = CliRunner().invoke(
        cli, ["datasets", "fashion-mnist", "--out", str(out), "--limit", "5"]
    )
    assert again.exit_code == 1 and "Error:" in again.output and "--overwrite" in again.output


def test_fashion_mnist_converter_names_missing_source(tmp_path: Path):
    result = CliRunner().invoke(
        cli, ["datasets", "fashion-mnist", "--out", str(tmp_path / "fm"), "--source", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert "Error:" in result.output and "train-images-idx3-ubyte" in result.output


def test_pixel_cache_is_read_when_it_matches(export: Path):
    assert json.loads((export / "export.json").read_text())["pixel_cache"] == "pixels.npy"
    cache = np.load(export / "pixels.npy")
    assert cache.shape == (16, 16, 16, 1) and cache.dtype == np.uint8
    cache[0] = 7  # differs from the PNG: proves which one was read
    np.save(export / "pixels.npy", cache)
    assert load_export(export).train[0].max() == pytest.approx(7 / 255)


def test_pixel_cache_that_does_not_match_falls_back_to_pngs(export: Path):
    np.save(export / "pixels.npy", np.zeros((3, 16, 16, 1), np.uint8))
    loaded = load_export(export)
    np.testing.assert_allclose(loaded.val, draw_shapes(4, 16, 1, seed=2) / 255.0)


def test_export_without_pixel_cache_reads_pngs(tmp_path: Path):
    images = draw_shapes(3, 8, 1, seed=4)
    write_export(tmp_path / "plain", {"train": images}, pixel_cache=False)
    assert not (tmp_path / "plain" / "pixels.npy").exists()
    np.testing.assert_allclose(load_export(tmp_path / "plain").train, images / 255.0)


def test_reconstruction_grid_keeps_each_reconstruction_under_its_original():
    import numpy as np

    from model.grid import interleave_rows

    originals = np.zeros((5, 2, 2, 1), np.float32) + np.arange(5).reshape(5, 1, 1, 1)
    reconstructions = originals + 10
    tiles = interleave_rows(originals, reconstructions, columns=4)
    assert tiles.shape == (16, 2, 2, 1)  # two rows of originals, two of reconstructions
    firsts = tiles[:, 0, 0, 0].tolist()
    assert firsts[:8] == [0, 1, 2, 3, 10, 11, 12, 13]
    assert firsts[8:] == [4, 1, 1, 1, 14, 1, 1, 1]  # the partial row is padded with white


@pytest.mark.parametrize("escape", ["../outside.png", "images/../../outside.png", "ABSOLUTE"])
def test_manifest_paths_outside_the_export_are_refused(export: Path, escape: str):
    """A manifest must not make the model read files outside its export folder."""
    (export / "pixels.npy").unlink()  # else the cache is read, not the PNGs
    outside = export.parent / "outside.png"
    outside.write_bytes((export / "images/train/00000.png").read_bytes())  # readable, right size
    file = str(outside) if escape == "ABSOLUTE" else escape
    rewrite_manifest(export, lambda row: {**row, "file": file} if row["index"] == "0" else row)
    with pytest.raises(ExportMalformed, match="line 2: .* points outside the export"):
        load_export(export)


def test_a_link_inside_the_export_to_elsewhere_is_refused(export: Path, tmp_path: Path):
    (export / "pixels.npy").unlink()
    outside = tmp_path / "elsewhere.png"
    outside.write_bytes((export / "images" / "train" / "00000.png").read_bytes())
    (export / "images" / "train" / "00000.png").unlink()
    (export / "images" / "train" / "00000.png").symlink_to(outside)
    with pytest.raises(ExportMalformed, match="points outside the export"):
        load_export(export)


@pytest.mark.parametrize("name", ["../pixels.npy", "/tmp/pixels.npy"])
def test_a_pixel_cache_outside_the_export_is_refused(export: Path, name: str):
    meta = json.loads((export / "export.json").read_text())
    (export / "export.json").write_text(json.dumps({**meta, "pixel_cache": name}))
    with pytest.raises(ExportMalformed, match="pixel_cache: .* points outside the export"):
        load_export(export)


def test_a_pickled_pixel_cache_is_never_unpickled(export: Path, tmp_path: Path):
    """np.load runs with allow_pickle=False: an object array falls back to the PNGs."""
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    np.save(export / "pixels.npy", np.array([Payload()], dtype=object), allow_pickle=True)
    loaded = load_export(export)
    assert not marker.exists()
    np.testing.assert_allclose(loaded.val, draw_shapes(4, 16, 1, seed=2) / 255.0)


def test_a_decompression_bomb_png_is_one_clear_error(export: Path):
    """A PNG whose header claims 20000x20000 is refused before any decoding."""
    import struct
    import zlib

    (export / "pixels.npy").unlink()
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
    (export / "images" / "train" / "00001.png").write_bytes(bomb + chunk(b"IEND", b""))
    with pytest.raises(ExportMalformed, match="00001.png is"):
        load_export(export)


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _victim(tmp_path: Path, kind: str) -> Path:
    """Something at --out that is not an export, which --overwrite must never delete."""
    target = tmp_path / "victim"
    if kind == "file":
        target.write_text("keep me")
        return target
    target.mkdir()
    (target / "thesis.tex").write_text("keep me")
    if kind == "manifest-only":
        (target / "manifest.csv").write_text("index,file\n")
    elif kind == "export-json-without-version":
        (target / "export.json").write_text('{"name": "mine"}\n')
    elif kind == "export-json-not-json":
        (target / "export.json").write_text("my notes\n")
    return target


@pytest.mark.parametrize(
    "kind", ["file", "folder", "manifest-only", "export-json-without-version",
             "export-json-not-json"],
)
def test_overwrite_replaces_only_an_earlier_export(tmp_path: Path, kind: str):
    target = _victim(tmp_path, kind)
    before = target.read_bytes() if kind == "file" else _tree(target)
    for overwrite in (False, True):
        with pytest.raises(DatasetExists, match="is not an export"):
            write_export(target, {"train": draw_shapes(2, 8)}, overwrite=overwrite)
    assert (target.read_bytes() if kind == "file" else _tree(target)) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["victim"]  # no temp folder left
    (tmp_path / "empty").mkdir()  # controls: an empty folder, then an earlier export, are replaced
    write_export(tmp_path / "empty", {"train": draw_shapes(2, 8)})
    write_export(tmp_path / "empty", {"train": draw_shapes(3, 8)}, overwrite=True)
    assert len(load_export(tmp_path / "empty").train) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "victim"]


@pytest.mark.parametrize("kind", ["file", "manifest-only"])
def test_datasets_cli_overwrite_refuses_what_is_not_an_export(tmp_path: Path, kind: str):
    target = _victim(tmp_path, kind)
    before = target.read_bytes() if kind == "file" else _tree(target)
    result = CliRunner().invoke(
        cli, ["datasets", "shapes", "--out", str(target), "--limit", "4", "--overwrite"]
    )
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"Error: {target} exists and is not an export")
    assert (target.read_bytes() if kind == "file" else _tree(target)) == before


def test_an_interrupted_write_leaves_the_old_export_and_no_temp(export: Path):
    before = _tree(export)

    def broken_url(split: str, number: int) -> str:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_export(export, {"train": draw_shapes(2, 8)}, url=broken_url, overwrite=True)
    assert _tree(export) == before
    assert sorted(p.name for p in export.parent.iterdir()) == [export.name]
