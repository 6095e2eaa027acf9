"""curate check: real image bytes of every kind through a real catalog, the CLI and the library."""

from __future__ import annotations

import json
from collections import Counter

import imagegen
import imagehash
import numpy as np
import photo_variants
from click.testing import CliRunner
from PIL import Image

from catalog import open_catalog
from catalog.checks import ImageCheck, record_image_checks
from catalog.harvest import FetchResult, record_fetches
from curate.check import CheckOptions, check_images
from curate.cli import cli
from curate.decode import DecodedImage, decode_image
from curate.hashing import (
    HASH_VERSION,
    REDUCE_TO,
    hamming,
    hash_image,
    hash_to_int64,
    int64_to_hash,
    phash_dct,
)
from curate.judge import JudgeOptions

IMAGE_COLUMNS = (
    "sha256", "status", "reason", "format", "width", "height", "mode", "frames",
    "pixel_sha256", "phash", "dhash", "whash",
)  # fmt: skip


def fetched(
    url: str, body: bytes | None = None, status: int | None = 200, error: str | None = None
):
    """The facts of one fetch, as the crawler records them."""
    return FetchResult(url, "imagenet", "n07631926", http_status=status, error=error, body=body)


def build(data_dir, results) -> None:
    """A catalog in ``data_dir`` holding ``results``."""
    with open_catalog(data_dir) as catalog:
        record_fetches(catalog, results)


def every_kind() -> list[FetchResult]:
    """One URL per image kind, plus dead links."""
    results = [
        fetched(f"http://img.test/{name}.jpg", body) for name, (body, _) in imagegen.kinds().items()
    ]
    return results + [
        fetched("http://img.test/gone.jpg", status=404),
        fetched("http://img.test/broken.jpg", status=500),
        fetched("http://down.test/a.jpg", status=None, error="refused"),
        fetched("ftp://img.test/b.jpg", status=None, error="bad_scheme"),
    ]


def image_rows(data_dir) -> dict[str, dict]:
    """Image judgments by URL (the stable part: no timestamps)."""
    with open_catalog(data_dir, create=False) as catalog:
        rows = catalog.conn.execute(
            f"SELECT u.url, {', '.join('i.' + c for c in IMAGE_COLUMNS)} "
            "FROM urls u JOIN images i ON i.sha256 = u.sha256 ORDER BY u.url"
        )
        return {row["url"]: dict(row) for row in rows}


def url_judgments(data_dir) -> dict[str, tuple]:
    with open_catalog(data_dir, create=False) as catalog:
        rows = catalog.conn.execute("SELECT url, status, reason FROM urls ORDER BY url")
        return {row["url"]: (row["status"], row["reason"]) for row in rows}


def run_check(data_dir, *args: str):
    result = CliRunner().invoke(
        cli, ["check", "--workers", "1", *args], env={"SYNTHSET_DATA": str(data_dir)}
    )
    assert result.exit_code == 0, result.output
    return result


def test_every_kind_gets_its_status_through_the_cli(data_dir):
    build(data_dir, every_kind())
    result = run_check(data_dir)
    rows = image_rows(data_dir)
    for name, (_, expected) in imagegen.kinds().items():
        row = rows[f"http://img.test/{name}.jpg"]
        assert row["status"] == expected, (name, row["reason"])
        assert row["reason"]
    assert "dead" in result.output and "placeholder" in result.output
    judged = url_judgments(data_dir)
    assert judged["http://img.test/gone.jpg"] == ("dead", "HTTP 404 Not Found")
    assert judged["http://img.test/broken.jpg"][1].startswith("HTTP 500")
    assert judged["http://down.test/a.jpg"] == ("dead", "connection refused (refused)")
    assert judged["ftp://img.test/b.jpg"][0] == "dead"
    assert judged["http://img.test/jpeg.jpg"] == (None, None)  # fetched fine: not dead


def test_measurements_and_special_encodings(data_dir):
    build(data_dir, every_kind())
    run_check(data_dir)
    rows = image_rows(data_dir)
    rotated = rows["http://img.test/exif_rotated.jpg"]
    assert (rotated["width"], rotated["height"]) == (160, 120)  # stored 120x160, EXIF turns it
    assert rows["http://img.test/cmyk.jpg"]["mode"] == "CMYK"
    assert rows["http://img.test/png16_gray.jpg"]["mode"].startswith("I")
    assert rows["http://img.test/animated_gif.jpg"]["frames"] == 3
    assert rows["http://img.test/palette.jpg"]["format"] == "PNG"
    assert "decompression bomb" in rows["http://img.test/bomb.jpg"]["reason"]
    assert rows["http://img.test/truncated_jpeg.jpg"]["reason"].startswith("truncated")
    assert rows["http://img.test/html.jpg"]["reason"] == "HTML document, not an image"
    ok = [r for r in rows.values() if r["status"] == "ok"]
    for row in ok:
        for column in ("phash", "dhash", "whash"):
            assert -(2**63) <= row[column] < 2**63
        assert len(row["pixel_sha256"]) == 64
    # Same picture in PNG and in 16-bit PNG greyscale are different arrays; CMYK is lossy.
    assert len({r["pixel_sha256"] for r in ok}) == len(ok)


def test_same_pixels_in_another_encoding_share_pixel_sha256(data_dir):
    png, bmp = imagegen.png(seed=21), imagegen.bmp(seed=21)
    build(data_dir, [fetched("http://a.test/x.png", png), fetched("http://a.test/x.bmp", bmp),
                     fetched("http://a.test/y.jpg", imagegen.jpeg(seed=21))])  # fmt: skip
    run_check(data_dir)
    rows = image_rows(data_dir)
    assert rows["http://a.test/x.png"]["sha256"] != rows["http://a.test/x.bmp"]["sha256"]
    assert (
        rows["http://a.test/x.png"]["pixel_sha256"] == rows["http://a.test/x.bmp"]["pixel_sha256"]
    )
    assert (
        rows["http://a.test/y.jpg"]["pixel_sha256"] != rows["http://a.test/x.png"]["pixel_sha256"]
    )
    assert hamming(rows["http://a.test/y.jpg"]["phash"], rows["http://a.test/x.png"]["phash"]) <= 4


def test_decoding_normalises_modes_honestly():
    gray16 = decode_image(imagegen.png16_gray(seed=4))
    expected = np.asarray(imagegen.picture(seed=4).convert("L"))
    assert isinstance(gray16, DecodedImage) and gray16.pixels.dtype == np.uint8
    assert np.array_equal(gray16.pixels, expected)  # scaled from 16 bits, not clipped to 255
    rgba = decode_image(imagegen.rgba_png(seed=7))
    assert rgba.pixels.shape == (120, 160, 3)
    assert tuple(rgba.pixels[0, 0]) == (255, 255, 255)  # transparent corner onto white
    rotated = decode_image(imagegen.exif_rotated_jpeg(seed=9))
    upright = np.asarray(imagegen.picture(seed=9), dtype=np.int16)
    assert np.abs(rotated.pixels.astype(np.int16) - upright).mean() < 6
    cmyk = decode_image(imagegen.cmyk_jpeg(seed=3))
    assert (
        np.abs(cmyk.pixels.astype(np.int16) - np.asarray(imagegen.picture(seed=3), np.int16)).mean()
        < 8
    )


def test_hash_int64_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(50):
        bits = rng.random((8, 8)) < 0.5
        original = imagehash.ImageHash(bits)
        value = hash_to_int64(original)
        assert -(2**63) <= value < 2**63
        assert int64_to_hash(value) == original
        assert (value & (2**64 - 1)) == int(str(original), 16)  # imagehash's own hex order
    top = imagehash.ImageHash(np.eye(8, dtype=bool)[::-1] | (np.arange(64).reshape(8, 8) == 0))
    assert hash_to_int64(top) < 0
    assert hamming(-1, 0) == 64 and hamming(5, 4) == 1


def test_too_small_follows_min_side_with_a_control(data_dir):
    build(data_dir, [fetched("http://a.test/tiny.png", imagegen.png(40, 20, seed=3))])
    run_check(data_dir)
    assert image_rows(data_dir)["http://a.test/tiny.png"]["status"] == "too_small"
    run_check(data_dir, "--all", "--min-side", "16")
    assert image_rows(data_dir)["http://a.test/tiny.png"]["status"] == "ok"


def test_the_report_says_how_many_are_too_small_and_which_option_admits_them(data_dir):
    build(data_dir, [fetched(f"http://a.test/{w}x{h}.png", imagegen.png(w, h, seed=w))
                     for w, h in ((28, 28), (40, 24), (64, 64))])
    result = run_check(data_dir)
    hint = ("2 image(s) too_small: their shorter side is under --min-side 32 px (the smallest: "
            "24 px); to admit them, rerun `curate check --all --min-side 24`")
    assert hint in " ".join(result.output.split())
    followed = run_check(data_dir, "--all", "--min-side", "24")  # the advice, taken
    assert {row["status"] for row in image_rows(data_dir).values()} == {"ok"}
    assert "too_small:" not in followed.output


def test_pixel_cap_refuses_with_a_control(data_dir):
    build(data_dir, [fetched("http://a.test/big.png", imagegen.png(200, 100, seed=3))])
    run_check(data_dir, "--max-pixels", "19999")
    row = image_rows(data_dir)["http://a.test/big.png"]
    assert (
        row["status"] == "corrupt" and "20000 pixels exceeds the 19999-pixel cap" in row["reason"]
    )
    run_check(data_dir, "--all", "--max-pixels", "20000")
    assert image_rows(data_dir)["http://a.test/big.png"]["status"] == "ok"


def test_placeholders_match_built_in_set_at_other_sizes_and_qualities(data_dir):
    from crawler.mirror.drawing import draw_placeholder

    mirror_tile = imagegen.encode(draw_placeholder(320, 240), "JPEG", quality=80)
    flickr_big = imagegen.encode(
        Image.open(__import__("io").BytesIO(imagegen.placeholder(1000, 748))), "JPEG", quality=60
    )
    build(data_dir, [
        fetched("http://a.test/mirror.jpg", mirror_tile),
        fetched("http://a.test/flickr.jpg", flickr_big),
        *[fetched(f"http://a.test/p{i}.jpg", imagegen.jpeg(400, 300, seed=i)) for i in range(40)],
    ])  # fmt: skip
    run_check(data_dir)
    rows = image_rows(data_dir)
    assert rows["http://a.test/mirror.jpg"]["status"] == "placeholder"
    assert "mirror photo-unavailable" in rows["http://a.test/mirror.jpg"]["reason"]
    assert rows["http://a.test/flickr.jpg"]["status"] == "placeholder"
    assert all(rows[f"http://a.test/p{i}.jpg"]["status"] == "ok" for i in range(40))  # control


def test_one_picture_under_many_names_is_a_placeholder_but_plain_duplicates_are_not(data_dir):
    stand_in, copied, mirrored = imagegen.png(seed=31), imagegen.png(seed=32), imagegen.png(seed=33)
    build(data_dir, [
        *[fetched(f"http://farm{i % 2}.test/123/{i}_abc.jpg", stand_in) for i in range(5)],
        *[fetched(f"http://site{i}.test/copy{i}.jpg", copied) for i in range(4)],  # 4 < 5
        *[fetched(f"http://cdn{i}.test/img/cake.jpg", mirrored) for i in range(6)],  # one name
    ])  # fmt: skip
    run_check(data_dir)
    rows = image_rows(data_dir)
    assert rows["http://farm0.test/123/0_abc.jpg"]["status"] == "placeholder"
    assert "5 URLs with 5 different names" in rows["http://farm0.test/123/0_abc.jpg"]["reason"]
    assert rows["http://site0.test/copy0.jpg"]["status"] == "ok"
    assert rows["http://cdn0.test/img/cake.jpg"]["status"] == "ok"
    run_check(data_dir, "--shared-urls", "0", "--all")  # rule off: the control
    assert image_rows(data_dir)["http://farm0.test/123/0_abc.jpg"]["status"] == "ok"


def test_rerun_is_idempotent_and_counts_go_to_runs(data_dir):
    build(data_dir, every_kind())
    run_check(data_dir)
    first = image_rows(data_dir), url_judgments(data_dir)
    second_output = run_check(data_dir).output
    assert (image_rows(data_dir), url_judgments(data_dir)) == first
    run_check(data_dir, "--all")
    assert (image_rows(data_dir), url_judgments(data_dir)) == first
    with open_catalog(data_dir, create=False) as catalog:
        runs = catalog.conn.execute("SELECT command, stats FROM runs ORDER BY id").fetchall()
    stats = [json.loads(row["stats"]) for row in runs]
    assert [row["command"] for row in runs] == ["check"] * 3
    kinds = Counter(expected for _, expected in imagegen.kinds().values())
    assert stats[0]["statuses"] == {s: kinds.get(s, 0) for s in stats[0]["statuses"]}
    assert stats[0]["dead_urls"] == 4 and stats[1]["checked"] == 0 and stats[2]["checked"] == 17
    assert "images judged" in second_output


def test_interrupted_check_converges_to_the_same_rows(tmp_path):
    results = every_kind() + [
        fetched(f"http://b.test/{i}.jpg", imagegen.jpeg(seed=100 + i)) for i in range(10)
    ]
    build(tmp_path / "whole", results)
    build(tmp_path / "parts", results)
    with open_catalog(tmp_path / "whole") as catalog:
        check_images(catalog, CheckOptions(workers=1))
    with open_catalog(tmp_path / "parts") as catalog:  # a run that stopped after 7 images
        first = check_images(catalog, CheckOptions(workers=1, batch_size=3, limit=7))
        assert first.checked == 7
        unchecked = catalog.conn.execute("SELECT count(*) FROM images WHERE checked_at IS NULL")
        assert unchecked.fetchone()[0] == 27 - 7
    with open_catalog(tmp_path / "parts") as catalog:
        assert check_images(catalog, CheckOptions(workers=1, batch_size=3)).checked == 20
    assert image_rows(tmp_path / "parts") == image_rows(tmp_path / "whole")
    assert url_judgments(tmp_path / "parts") == url_judgments(tmp_path / "whole")


def test_parallel_workers_give_the_same_rows_as_one_process(tmp_path):
    results = [
        fetched(f"http://c.test/{i}.jpg", imagegen.jpeg(96, 80, seed=200 + i)) for i in range(60)
    ]
    results += every_kind()
    for name, workers in (("one", 1), ("two", 2)):
        build(tmp_path / name, results)
        with open_catalog(tmp_path / name) as catalog:
            seen: list[tuple[str, int, int]] = []
            report = check_images(catalog, CheckOptions(workers=workers, batch_size=10),
                                  progress=lambda *args, seen=seen: seen.append(args))  # fmt: skip
            assert report.checked == 77 and seen[-1] == ("check", 77, 77)
    assert image_rows(tmp_path / "two") == image_rows(tmp_path / "one")


def test_missing_catalog_is_an_error(tmp_path):
    result = CliRunner().invoke(cli, ["check", "--data", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: no catalog at ")
    assert not (tmp_path / "nowhere").exists()


def test_draft_decoding_still_catches_truncation_and_keeps_full_size(data_dir):
    big = imagegen.jpeg(800, 600, seed=41)
    build(data_dir, [
        fetched("http://d.test/big.jpg", big),
        fetched("http://d.test/cut.jpg", big[: len(big) * 9 // 10]),  # only the tail is missing
        fetched("http://d.test/half.jpg", big[: len(big) // 2]),
        fetched("http://d.test/turned.jpg", imagegen.exif_rotated_jpeg(640, 480, seed=42)),
        fetched("http://d.test/big.png", imagegen.png(800, 600, seed=41)),
    ])  # fmt: skip
    run_check(data_dir, "--draft")
    drafted = image_rows(data_dir)
    for cut in ("cut", "half"):
        assert drafted[f"http://d.test/{cut}.jpg"]["status"] == "corrupt"
        assert drafted[f"http://d.test/{cut}.jpg"]["reason"].startswith("truncated")
    assert (
        drafted["http://d.test/big.jpg"]["width"],
        drafted["http://d.test/big.jpg"]["height"],
    ) == (800, 600)
    assert (
        drafted["http://d.test/turned.jpg"]["width"],
        drafted["http://d.test/turned.jpg"]["height"],
    ) == (640, 480)
    assert len(drafted["http://d.test/big.jpg"]["pixel_sha256"]) == 64  # of the 1/8 pixels
    with open_catalog(data_dir) as catalog:  # the control: full resolution
        check_images(catalog, CheckOptions(workers=1, everything=True, draft=False))
    full = image_rows(data_dir)
    assert full["http://d.test/cut.jpg"]["reason"] == drafted["http://d.test/cut.jpg"]["reason"]
    big_full, big_drafted = full["http://d.test/big.jpg"], drafted["http://d.test/big.jpg"]
    assert big_full["pixel_sha256"] != big_drafted["pixel_sha256"]
    assert big_full["reason"] == big_drafted["reason"]
    png_hashes = {rows["http://d.test/big.png"]["pixel_sha256"] for rows in (full, drafted)}
    assert len(png_hashes) == 1  # PNG has no draft mode
    assert hamming(big_full["phash"], big_drafted["phash"]) <= 4


def test_reduced_decode_is_the_default_and_reports_its_scale():
    big = imagegen.jpeg(800, 600, seed=41)
    reduced = decode_image(big, draft_side=REDUCE_TO)
    assert isinstance(reduced, DecodedImage) and reduced.reduction == 8
    assert reduced.image.size == (100, 75) and (reduced.width, reduced.height) == (800, 600)
    small = decode_image(imagegen.jpeg(200, 120, seed=41), draft_side=REDUCE_TO)
    assert small.reduction == 1 and small.image.size == (200, 120)  # too small to reduce
    assert decode_image(big).reduction == 8  # the default, as curate check and dedup use it
    full = decode_image(big, draft_side=None)
    assert full.reduction == 1 and full.image.size == (800, 600)
    assert CheckOptions().draft and JudgeOptions().draft


def _with_comment(jpeg: bytes, text: bytes) -> bytes:
    """The same JPEG data with a COM segment after SOI: other bytes, same coefficients."""
    return jpeg[:2] + b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text + jpeg[2:]


def test_reduced_pixel_hash_matches_the_same_jpeg_data_only(data_dir):
    photo = imagegen.picture(640, 480, seed=43)
    original = imagegen.encode(photo, "JPEG")  # Pillow's default quality, as d.jpg
    build(data_dir, [
        fetched("http://e.test/a.jpg", original),
        fetched("http://e.test/b.jpg", _with_comment(original, b"copied by a CDN")),
        fetched("http://e.test/c.jpg", imagegen.encode(photo, "JPEG", quality=60)),  # control
        fetched("http://e.test/d.jpg", imagegen.encode(photo, "JPEG", progressive=True)),
    ])  # fmt: skip
    with open_catalog(data_dir) as catalog:
        check_images(catalog, CheckOptions(workers=1))
    rows = image_rows(data_dir)
    a, b, c = (rows[f"http://e.test/{x}.jpg"] for x in "abc")
    assert a["sha256"] != b["sha256"] and a["pixel_sha256"] == b["pixel_sha256"]
    assert c["pixel_sha256"] != a["pixel_sha256"]
    assert rows["http://e.test/d.jpg"]["pixel_sha256"] == a["pixel_sha256"]  # same coefficients


def test_phash_without_scipy_gives_imagehash_bits():
    rng = np.random.default_rng(5)
    pictures = [imagegen.picture(160, 120, seed=s) for s in range(20)]
    pictures += [Image.fromarray(rng.integers(0, 256, (40, 50), dtype=np.uint8)) for _ in range(50)]
    pictures += [Image.new("L", (64, 64), v) for v in (0, 1, 128, 255)]  # flat: ties everywhere
    ramp = np.tile(np.linspace(0, 255, 64).round().astype(np.uint8), (64, 1))
    pictures += [Image.fromarray(ramp), Image.fromarray(ramp.T.copy()), Image.new("RGB", (9, 9))]
    pictures += [Image.fromarray((rng.random((32, 32)) < 0.02).astype(np.uint8) * 255)]
    for picture in pictures:
        assert phash_dct(picture) == imagehash.phash(picture)
    assert hash_to_int64(phash_dct(Image.new("L", (64, 64), 90))) == -(2**63)  # flat: DC only


def _verdict(decoded: object) -> tuple[str, str]:
    """ok and the size, or the failure's status and reason."""
    if isinstance(decoded, DecodedImage):
        return ("ok", f"{decoded.width}x{decoded.height}")
    return (decoded.status, decoded.reason)


def test_reduced_and_full_size_decoding_give_the_same_verdict_on_damaged_jpegs():
    rng = np.random.default_rng(1)
    photo = imagegen.picture(800, 600, seed=41)
    verdicts = Counter()
    sources = (imagegen.encode(photo, "JPEG"), imagegen.encode(photo, "JPEG", progressive=True))
    for source in sources:
        damaged = [source[: int(len(source) * keep)] for keep in (0.2, 0.5, 0.9, 0.99)]
        for k in range(6):  # 64 random bytes somewhere in the entropy-coded data
            body, at = bytearray(source), int(len(source) * (0.2 + 0.1 * k))
            body[at : at + 64] = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
            damaged.append(bytes(body))
        for body in damaged:
            reduced, full = decode_image(body), decode_image(body, draft_side=None)
            assert _verdict(reduced) == _verdict(full)
            verdicts[_verdict(full)[0]] += 1
            if isinstance(reduced, DecodedImage):
                assert reduced.reduction == 8 and full.reduction == 1
    assert verdicts["corrupt"] >= 8 and verdicts["ok"] >= 1  # both kinds of outcome were seen


def _stored(data_dir) -> dict[str, dict]:
    """Hashes, method and check time of every image, by URL."""
    with open_catalog(data_dir, create=False) as catalog:
        rows = catalog.conn.execute(
            "SELECT u.url, i.sha256, i.status, i.width, i.height, i.phash, i.dhash, i.whash, "
            "i.centre5_phash, i.centre10_phash, i.pixel_sha256, i.hash_version, i.checked_at "
            "FROM urls u JOIN images i ON i.sha256 = u.sha256"
        )
        return {row["url"]: dict(row) for row in rows}


def test_hashes_of_an_older_method_are_recomputed_by_a_plain_check(data_dir):
    build(data_dir, [
        fetched("http://v.test/old.jpg", imagegen.jpeg(640, 480, seed=51)),
        fetched("http://v.test/new.png", imagegen.png(seed=52)),
        fetched("http://v.test/cut.jpg", imagegen.jpeg(640, 480, seed=53)[:3000]),
    ])  # fmt: skip
    run_check(data_dir)
    first = _stored(data_dir)
    assert {r["hash_version"] for u, r in first.items() if "cut" not in u} == {HASH_VERSION}
    assert first["http://v.test/cut.jpg"]["hash_version"] is None  # corrupt: no hashes
    old = first["http://v.test/old.jpg"]
    with open_catalog(data_dir) as catalog:  # as an older synthset stored it: no version
        record_image_checks(catalog, [ImageCheck(
            old["sha256"], "ok", "checked by an older synthset", width=old["width"],
            height=old["height"], pixel_sha256=old["pixel_sha256"], phash=old["phash"] ^ 0b11,
            dhash=old["dhash"] ^ 1, whash=old["whash"], centre5_phash=old["centre5_phash"],
            centre10_phash=old["centre10_phash"],
        )])  # fmt: skip
    run_check(data_dir)
    again = _stored(data_dir)
    assert again["http://v.test/old.jpg"] | {"checked_at": None} == old | {"checked_at": None}
    assert again["http://v.test/old.jpg"]["checked_at"] != old["checked_at"]  # re-judged
    for untouched in ("http://v.test/new.png", "http://v.test/cut.jpg"):  # current or hashless
        assert again[untouched]["checked_at"] == first[untouched]["checked_at"]


def test_hashes_stay_within_a_few_bits_of_imagehash_on_the_full_picture():
    for name in photo_variants.PHOTOS:
        photo = photo_variants.load_photo(name)
        ours = hash_image(photo, with_pixels=False)
        theirs = {
            "phash": imagehash.phash(photo), "dhash": imagehash.dhash(photo),
            "whash": imagehash.whash(photo, image_scale=64),  # our working size
        }  # fmt: skip
        distances = {k: hamming(ours.get(k), hash_to_int64(v)) for k, v in theirs.items()}
        assert distances["phash"] <= 4 and max(distances.values()) <= 8, (name, distances)
    camera, coins = (hash_image(photo_variants.load_photo(n)) for n in ("camera", "coins"))
    assert hamming(camera.phash, coins.phash) > 16  # the control: different photos are far
