"""curate dedup: recall/precision on real photographs, star groups, thresholds, reruns, review."""

from __future__ import annotations

import io
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageEnhance
from skimage import data as samples

from catalog import CATALOG_FILE, open_catalog
from catalog.checks import ImageCheck, record_image_checks
from catalog.duplicates import (
    DedupCandidate,
    NoDuplicateGroup,
    NotInGroup,
    break_group,
    break_member,
    choose_keeper,
    current_duplicates,
    dedup_candidates,
    duplicate_groups,
    latest_dedup_stats,
)
from catalog.harvest import FetchResult, record_fetches
from curate.check import CheckOptions, check_images
from curate.cli import cli
from curate.dedup import (
    DedupOptions,
    InvalidThreshold,
    UnknownHash,
    dedup_images,
    is_flat,
    plan_groups,
)
from curate.hashing import HASH_VERSION, hamming
from curate.neardup import brute_force_pairs, near_pairs, plan_search
from curate.verify import Evidence

# Photographs whose transforms below stay within 6 pHash bits (measured: at most 4), and
# distinct photographs with no variants. skimage's `cat` is `chelsea`, so it is not used.
PHOTOS = ("astronaut", "coffee", "chelsea", "camera", "coins", "moon",
          "immunohistochemistry", "hubble_deep_field", "gravel", "text")
DISTRACTORS = ("rocket", "brick", "grass", "clock", "cell")
VARIANTS = ("png", "bmp", "resize", "q20", "crop", "bright")  # 6 distinct bodies per photo
FLATS = ("gray.png", "gray.bmp", "red.png", "hgradient.png")


def _encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _photo(name: str) -> Image.Image:
    pixels = getattr(samples, name)()
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = pixels[..., :3]
    return Image.fromarray(pixels.astype(np.uint8))


def _variants(image: Image.Image) -> dict[str, bytes]:
    """The photo as PNG and BMP (same pixels), halved, JPEG q20, cropped 1%/side, +10% bright."""
    w, h = image.size
    dx, dy = int(w * 0.01), int(h * 0.01)
    return {
        "png": _encode(image, "PNG"),
        "bmp": _encode(image, "BMP"),
        "resize": _encode(image.resize((w // 2, h // 2), Image.LANCZOS), "JPEG", quality=90),
        "q20": _encode(image, "JPEG", quality=20),
        "crop": _encode(image.crop((dx, dy, w - dx, h - dy)), "PNG"),
        "bright": _encode(ImageEnhance.Brightness(image).enhance(1.1), "PNG"),
    }


def _flats() -> dict[str, bytes]:
    gray = Image.new("RGB", (200, 150), (128, 128, 128))
    gradient = Image.fromarray(np.tile(np.linspace(255, 0, 200), (150, 1)).astype(np.uint8))
    return {
        "gray.png": _encode(gray, "PNG"),
        "gray.bmp": _encode(gray, "BMP"),
        "red.png": _encode(Image.new("RGB", (200, 150), (200, 30, 30)), "PNG"),
        "hgradient.png": _encode(gradient, "PNG"),
    }


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A checked catalog of real photos and their variants; returns (data dir, url -> sha256).

    Built through record_fetches and the real `curate check`, once per module.
    """
    data_dir = tmp_path_factory.mktemp("dedup") / "data"
    results = []
    for name in PHOTOS:
        for variant, body in _variants(_photo(name)).items():
            results.append(FetchResult(f"http://127.0.0.1/{name}/{variant}", "web",
                                       http_status=200, body=body))
        # the same body under a second URL: an exact (sha256) duplicate, one images row
        results.append(FetchResult(f"http://127.0.0.1/{name}/png-again", "web",
                                   http_status=200, body=_variants(_photo(name))["png"]))
    for name in DISTRACTORS:
        results.append(FetchResult(f"http://127.0.0.1/{name}/png", "web", http_status=200,
                                   body=_encode(_photo(name), "PNG")))
    for name, body in _flats().items():
        results.append(FetchResult(f"http://127.0.0.1/flat/{name}", "web", http_status=200,
                                   body=body))
    with open_catalog(data_dir) as catalog:
        record_fetches(catalog, results)
        report = check_images(catalog, CheckOptions(workers=2, shared_urls=0))
        assert report.statuses["ok"] == len(PHOTOS) * 6 + len(DISTRACTORS) + len(FLATS)
        by_url = {r.url: catalog.store.put(r.body).sha256 for r in results}
    return data_dir, by_url


@pytest.fixture
def checked(template, tmp_path):
    """A private copy of the checked catalog: (catalog, url -> sha256)."""
    source, by_url = template
    target = tmp_path / "data"
    shutil.copytree(source, target)
    catalog = open_catalog(target, create=False)
    yield catalog, by_url
    catalog.close()


def _sha(by_url: dict[str, str], name: str, variant: str) -> str:
    return by_url[f"http://127.0.0.1/{name}/{variant}"]


def _groups(catalog) -> dict[str, set[str]]:
    """keeper -> members, read back through catalog.duplicates."""
    groups: dict[str, set[str]] = {}
    for sha256, (keeper, _) in current_duplicates(catalog).items():
        groups.setdefault(keeper, set()).add(sha256)
    return groups


# --- real photographs: recall and precision -------------------------------------------


def test_every_variant_of_a_photo_is_grouped_and_distinct_photos_never_are(checked):
    catalog, by_url = checked
    report = dedup_images(catalog, DedupOptions())
    groups = _groups(catalog)
    assert len(groups) == len(PHOTOS) + 1  # one per photo, one for the gray PNG/BMP pair
    assert report.duplicates == len(PHOTOS) * 5 + 1
    for name in PHOTOS:
        everyone = {_sha(by_url, name, v) for v in VARIANTS}
        keeper = _sha(by_url, name, "bmp")  # full size and the most bytes
        assert groups[keeper] == everyone - {keeper}, name
    for name in DISTRACTORS:
        sha = _sha(by_url, name, "png")
        assert sha not in groups and sha not in current_duplicates(catalog), name
    # the same pixels in another encoding, with its reason
    dups = current_duplicates(catalog)
    astronaut_bmp = _sha(by_url, "astronaut", "bmp")
    assert dups[_sha(by_url, "astronaut", "png")] == (
        astronaut_bmp, f"same pixels as {astronaut_bmp[:12]}")
    assert dups[_sha(by_url, "astronaut", "q20")][1].startswith("phash distance ")
    assert report.same_pixels == len(PHOTOS) + 1
    assert report.shared_urls == len(PHOTOS)  # one extra URL per photo for the same body
    stats = latest_dedup_stats(catalog)
    assert stats["duplicates"] == report.duplicates and stats["threshold"] == 8


def test_near_uniform_images_stay_out_of_the_near_graph_but_same_pixels_group(checked):
    catalog, by_url = checked
    report = dedup_images(catalog, DedupOptions(threshold=20))
    gray_png, gray_bmp = _sha(by_url, "flat", "gray.png"), _sha(by_url, "flat", "gray.bmp")
    red, gradient = _sha(by_url, "flat", "red.png"), _sha(by_url, "flat", "hgradient.png")
    dups = current_duplicates(catalog)
    assert dups[gray_png][0] == gray_bmp
    assert red not in dups and gradient not in dups
    assert red not in _groups(catalog) and gradient not in _groups(catalog)
    assert report.flat == len(FLATS)  # pHash 0x8000000000000000 for each of them
    # the control: their hashes really are identical, so without the rule they would group
    hashes = {c.sha256: c.phash for c in dedup_candidates(catalog, HASH_VERSION)}
    assert hashes[red] == hashes[gray_png]


def test_flat_rule_on_stored_hashes(checked):
    catalog, by_url = checked
    candidates = {c.sha256: c for c in dedup_candidates(catalog, HASH_VERSION)}
    for column in ("phash", "dhash", "whash"):
        photo = getattr(candidates[_sha(by_url, "astronaut", "png")], column)
        gray = getattr(candidates[_sha(by_url, "flat", "gray.png")], column)
        assert is_flat(np.array([photo, gray])).tolist() == [False, True], column


@pytest.mark.parametrize("hash_name", ["dhash", "whash"])
def test_other_hashes_group_the_same_photos(checked, hash_name):
    catalog, by_url = checked
    dedup_images(catalog, DedupOptions(hash_name=hash_name))
    groups = _groups(catalog)
    for name in ("astronaut", "camera", "coins"):
        everyone = {_sha(by_url, name, v) for v in VARIANTS}
        assert groups[_sha(by_url, name, "bmp")] == everyone - {_sha(by_url, name, "bmp")}
    grouped = set(groups) | set(current_duplicates(catalog))
    assert not grouped & {_sha(by_url, d, "png") for d in DISTRACTORS}


# --- thresholds and reruns --------------------------------------------------------------


def test_threshold_control_a_crop_groups_at_its_distance_and_not_one_below(checked):
    catalog, by_url = checked
    keeper, crop = _sha(by_url, "astronaut", "bmp"), _sha(by_url, "astronaut", "crop")
    hashes = {c.sha256: c.phash for c in dedup_candidates(catalog, HASH_VERSION)}
    distance = hamming(hashes[keeper], hashes[crop])
    assert 0 < distance <= 6
    dedup_images(catalog, DedupOptions(threshold=distance, verify=False))
    assert current_duplicates(catalog)[crop] == (
        keeper, f"phash distance {distance} to {keeper[:12]}")
    dedup_images(catalog, DedupOptions(threshold=distance - 1, verify=False))
    assert crop not in current_duplicates(catalog)


def test_rerun_with_another_threshold_recomputes_cleanly(checked):
    catalog, by_url = checked
    dedup_images(catalog, DedupOptions(threshold=6, verify=False))
    at_six = current_duplicates(catalog)
    again = dedup_images(catalog, DedupOptions(threshold=6, verify=False))
    assert again.changed == 0 and current_duplicates(catalog) == at_six
    exact = dedup_images(catalog, DedupOptions(threshold=0, verify=False))
    at_zero = current_duplicates(catalog)
    hashes = {c.sha256: c.phash for c in dedup_candidates(catalog, HASH_VERSION)}
    assert at_zero and set(at_zero) < set(at_six)
    for sha256, (keeper, reason) in at_zero.items():  # only identical hashes remain
        assert hashes[sha256] == hashes[keeper], reason
    assert _sha(by_url, "astronaut", "crop") not in at_zero
    moved = {s for s in set(at_six) | set(at_zero)
             if at_six.get(s, (None,))[0] != at_zero.get(s, (None,))[0]}
    assert exact.changed == len(moved) > len(at_six) - len(at_zero)  # some found new keepers
    dedup_images(catalog, DedupOptions(threshold=6, verify=False))
    assert current_duplicates(catalog) == at_six


def test_dry_run_writes_nothing_even_when_it_computes_hashes(checked):
    catalog, by_url = checked
    dedup_images(catalog, DedupOptions(threshold=6))
    # an older catalog: ok images checked before hashes were stored
    olds = [
        c for c in dedup_candidates(catalog, HASH_VERSION)
        if "astronaut" in _names(by_url, c.sha256)
    ]
    record_image_checks(catalog, [
        ImageCheck(c.sha256, "ok", "checked by an older synthset", width=c.width,
                   height=c.height) for c in olds
    ])
    before = list(catalog.conn.iterdump())
    report = dedup_images(catalog, DedupOptions(threshold=2, dry_run=True))
    assert list(catalog.conn.iterdump()) == before
    assert report.hashed == len(olds) and report.changed == 0 and report.run_id is None
    assert report.groups  # it did find groups, it only did not write them


def _names(by_url: dict[str, str], sha256: str) -> str:
    return " ".join(url for url, sha in by_url.items() if sha == sha256)


def test_missing_hashes_are_computed_on_all_cores_and_stored(checked):
    catalog, by_url = checked
    dedup_images(catalog, DedupOptions())
    expected = current_duplicates(catalog)
    stored = {c.sha256: c for c in dedup_candidates(catalog, HASH_VERSION)}
    record_image_checks(catalog, [
        ImageCheck(c.sha256, "ok", "checked by an older synthset", width=c.width,
                   height=c.height) for c in stored.values()
    ])
    assert not any(c.has_hashes() for c in dedup_candidates(catalog, HASH_VERSION))
    report = dedup_images(catalog, DedupOptions(workers=2))
    assert report.hashed == len(stored) and report.unhashable == 0
    assert current_duplicates(catalog) == expected
    again = {c.sha256: c for c in dedup_candidates(catalog, HASH_VERSION)}
    assert again == stored  # the same hashes `curate check` computed


def test_hashes_of_an_older_method_are_recomputed_not_compared(checked):
    catalog, by_url = checked
    dedup_images(catalog, DedupOptions())
    expected = current_duplicates(catalog)
    stored = {c.sha256: c for c in dedup_candidates(catalog, HASH_VERSION)}
    record_image_checks(catalog, [  # as an older method left them: other values, no version
        ImageCheck(c.sha256, "ok", "hashed by an older method", width=c.width, height=c.height,
                   pixel_sha256=c.pixel_sha256, phash=c.phash ^ 0xFF, dhash=c.dhash ^ 0xFF,
                   whash=c.whash ^ 0xFF, centre5_phash=c.centre5_phash ^ 0xFF,
                   centre10_phash=c.centre10_phash ^ 0xFF)
        for c in stored.values()
    ])
    older = dedup_candidates(catalog, HASH_VERSION)
    assert all(c.phash is None and c.pixel_sha256 is not None for c in older)
    report = dedup_images(catalog, DedupOptions(workers=1))
    assert report.hashed == len(stored) and report.unhashable == 0
    assert current_duplicates(catalog) == expected
    assert {c.sha256: c for c in dedup_candidates(catalog, HASH_VERSION)} == stored


# --- star groups: no chaining ------------------------------------------------------------


def _candidate(sha: str, phash: int, area: int) -> DedupCandidate:
    return DedupCandidate(
        sha256=sha * 64, path="x", bytes=1000, width=area, height=1,
        first_seen="2026-01-01", discovered_at="2026-01-01", pixel_sha256=sha * 64,
        phash=phash, dhash=phash, whash=phash,
    )


BASE = 0x5A5A_5A5A_0F0F_0F0F  # 32 bits set: not flat
B_HASH = BASE ^ 0b1111  # 4 bits from A
C_HASH = B_HASH ^ (0b1111 << 8)  # 4 bits from B, 8 from A


def test_groups_do_not_chain_through_a_middle_image():
    a, b, c = _candidate("a", BASE, 300), _candidate("b", B_HASH, 200), _candidate("c", C_HASH, 100)
    groups = plan_groups([a, b, c], "phash", 6)
    assert [(g.keeper, [m.sha256 for m in g.members]) for g in groups] == [
        (a.sha256, [b.sha256])
    ]  # C is 8 bits from A: alone, although it is 4 bits from B
    middle_first = _candidate("b", B_HASH, 400)  # now B is offered first and keeps both
    groups = plan_groups([a, middle_first, c], "phash", 6)
    assert [(g.keeper, sorted(m.sha256 for m in g.members)) for g in groups] == [
        (middle_first.sha256, sorted([a.sha256, c.sha256]))
    ]
    assert [m.distance for m in groups[0].members] == [4, 4]


def test_with_verification_a_members_neighbour_is_a_candidate_of_the_keeper_itself():
    """C is 8 bits from keeper A (outside radius 6) but 4 from A's member B: C is offered
    to A and joins only if A and C themselves are verified; B and C are never compared."""
    a, b, c = (replace(_candidate(sha, value, area), centre5_phash=value, centre10_phash=value)
               for sha, value, area in (("a", BASE, 300), ("b", B_HASH, 200), ("c", C_HASH, 100)))
    for c_is_a_duplicate in (True, False):
        asked: list[tuple[str, str]] = []

        def verifier(pairs, held=c_is_a_duplicate, asked=asked):
            asked.extend(("abc"[i], "abc"[j]) for i, j in pairs)
            return [Evidence(held or (i, j) != (0, 2), inliers=50, matches=60, scale=1.0,
                             contained=1.0, cover=1.0, correlation=0.99) for i, j in pairs]

        groups = plan_groups([a, b, c], "phash", 6, verifier=verifier)
        assert sorted(asked) == [("a", "b"), ("a", "c")]
        members = {m.sha256: m for g in groups for m in g.members}
        assert [g.keeper for g in groups] == [a.sha256]
        assert (c.sha256 in members) is c_is_a_duplicate
    reason = plan_groups([a, b, c], "phash", 6, verifier=lambda pairs: [
        Evidence(True, inliers=50, matches=60, scale=1.0, contained=1.0, cover=1.0,
                 correlation=0.99) for _ in pairs])[0].members[1].reason
    assert reason.startswith(f"phash distance 8, near member {'b' * 12} to {'a' * 12}; verified:")


def test_no_chaining_through_the_catalog(checked):
    catalog, by_url = checked
    a, b, c = (_sha(by_url, name, "png") for name in ("rocket", "brick", "grass"))
    rows = {r.sha256: r for r in dedup_candidates(catalog, HASH_VERSION)}
    record_image_checks(catalog, [
        ImageCheck(sha, "ok", "constructed hashes", width=rows[sha].width, height=rows[sha].height,
                   pixel_sha256=rows[sha].pixel_sha256, phash=h, dhash=h, whash=h,
                   hash_version=HASH_VERSION)
        for sha, h in ((a, BASE), (b, B_HASH), (c, C_HASH))
    ])
    dedup_images(catalog, DedupOptions(threshold=6, verify=False))  # hashes alone decide
    dups = current_duplicates(catalog)
    area = {s: rows[s].area for s in (a, b, c)}
    first = max((a, b, c), key=lambda s: (area[s], rows[s].bytes))
    if first == b:  # the middle image is largest: it keeps both ends
        assert dups[a][0] == b and dups[c][0] == b
    else:  # an end is largest: it keeps the middle, the far end stays apart
        other_end = c if first == a else a
        assert dups[b][0] == first and other_end not in dups, dups.get(other_end)


# --- review decisions ---------------------------------------------------------------------


def test_choose_keeper_moves_the_group_and_reruns_keep_it(checked):
    catalog, by_url = checked
    dedup_images(catalog, DedupOptions())
    old, new = _sha(by_url, "coffee", "bmp"), _sha(by_url, "coffee", "q20")
    everyone = {_sha(by_url, "coffee", v) for v in VARIANTS}
    choose_keeper(catalog, old, new)
    (group,) = [g for g in duplicate_groups(catalog) if g.keeper.sha256 == new]
    assert set(group.sha256s) == everyone
    assert [m.distance for m in group.members] == sorted(m.distance for m in group.members)
    assert "keeper chosen in review" in current_duplicates(catalog)[old][1]
    for threshold in (6, 0):  # pinned: kept as is at any threshold
        report = dedup_images(catalog, DedupOptions(threshold=threshold))
        assert _groups(catalog)[new] == everyone - {new}
        assert any(g.pinned and g.keeper == new for g in report.groups)
    with pytest.raises(NotInGroup):
        choose_keeper(catalog, new, _sha(by_url, "rocket", "png"))


def test_break_group_is_respected_by_a_rerun(checked):
    catalog, by_url = checked
    dedup_images(catalog, DedupOptions())
    keeper = _sha(by_url, "moon", "bmp")
    everyone = {_sha(by_url, "moon", v) for v in VARIANTS}
    freed = break_group(catalog, keeper)
    assert set(freed) == everyone - {keeper}
    assert not everyone & set(current_duplicates(catalog))
    report = dedup_images(catalog, DedupOptions(threshold=10))
    assert report.blocked_pairs == 15  # every pair of the six
    for keeper_now, members in _groups(catalog).items():
        assert len(({keeper_now} | members) & everyone) <= 1, "a broken group was formed again"
    assert report.duplicates >= (len(PHOTOS) - 1) * 5  # the other photos still group
    with pytest.raises(NoDuplicateGroup):
        break_group(catalog, keeper)


def test_break_member_takes_one_image_out_for_good(checked):
    catalog, by_url = checked
    dedup_images(catalog, DedupOptions())
    keeper, crop = _sha(by_url, "camera", "bmp"), _sha(by_url, "camera", "crop")
    assert break_member(catalog, crop) == keeper
    dedup_images(catalog, DedupOptions())
    groups = _groups(catalog)
    assert groups[keeper] == {_sha(by_url, "camera", v) for v in VARIANTS} - {keeper, crop}
    assert crop not in current_duplicates(catalog) and crop not in groups
    with pytest.raises(NotInGroup):
        break_member(catalog, crop)


# --- CLI ----------------------------------------------------------------------------------


def test_cli_dry_run_prints_groups_and_a_real_run_records_a_run(checked):
    catalog, _ = checked
    env = {"SYNTHSET_DATA": str(catalog.data_dir)}
    runner = CliRunner()
    result = runner.invoke(cli, ["dedup", "--dry-run"], env=env)
    assert result.exit_code == 0, result.output
    assert "duplicate groups" in result.output and "dry run" in result.output
    assert latest_dedup_stats(catalog) is None
    result = runner.invoke(cli, ["dedup", "--hash", "dhash", "--threshold", "4"], env=env)
    assert result.exit_code == 0, result.output
    stats = latest_dedup_stats(catalog)
    assert stats["hash"] == "dhash" and stats["threshold"] == 4 and stats["duplicates"] > 0


def test_cli_refuses_bad_options_and_a_missing_catalog(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["dedup", "--threshold", "99", "--data", str(tmp_path)])
    assert result.exit_code == 2, result.output
    result = runner.invoke(cli, ["dedup", "--data", str(tmp_path / "none")])
    assert result.exit_code == 1 and "Error: no catalog" in result.output, result.output
    assert not (tmp_path / "none" / CATALOG_FILE).exists()


def test_options_are_validated():
    with pytest.raises(UnknownHash, match="phash"):
        DedupOptions(hash_name="md5")
    with pytest.raises(InvalidThreshold):
        DedupOptions(threshold=-1)


# --- the search itself against brute force ------------------------------------------------


def _planted(n: int, pairs: int, max_distance: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
    sources = rng.integers(0, n, pairs)
    targets = rng.integers(0, n, pairs)
    for source, target in zip(sources, targets, strict=True):
        flips = rng.choice(64, rng.integers(0, max_distance + 1), replace=False)
        mask = sum(1 << int(bit) for bit in flips)
        values[target] = np.uint64(int(values[source]) ^ mask)
    return values.view(np.int64)


@pytest.mark.parametrize("radius", [0, 1, 3, 6, 9])
def test_near_pairs_equal_brute_force_on_random_hashes(radius):
    hashes = _planted(3000, 600, radius + 2, seed=radius)
    found, truth = near_pairs(hashes, radius), brute_force_pairs(hashes, radius)
    assert len(truth) > 100  # the planted pairs are there to be found
    assert found.as_set() == truth.as_set()
    assert found.distance.tolist() == truth.distance.tolist()


@pytest.mark.parametrize("n_for_plan,radius", [(1_000_000, 6), (1_000_000, 3), (50, 2), (50, 0)])
def test_every_kind_of_plan_finds_the_brute_force_pairs(n_for_plan, radius):
    """Plans made for other sizes: flips in 21/22-bit tables, 32/64-bit sorted lookups."""
    hashes = _planted(2000, 400, radius + 2, seed=7 + radius)
    plan = plan_search(n_for_plan, radius)
    found = near_pairs(hashes, radius, plan=plan)
    assert found.as_set() == brute_force_pairs(hashes, radius).as_set()


def test_a_run_killed_midway_leaves_the_previous_result_and_a_rerun_converges(checked):
    catalog, _ = checked
    dedup_images(catalog, DedupOptions(threshold=6))
    at_six = current_duplicates(catalog)
    dedup_images(catalog, DedupOptions(threshold=0))
    at_zero = current_duplicates(catalog)

    class Killed(Exception):
        pass

    def kill(phase: str, done: int, total: int) -> None:
        if phase == "group":
            raise Killed

    with pytest.raises(Killed):
        dedup_images(catalog, DedupOptions(threshold=6), progress=kill)
    assert current_duplicates(catalog) == at_zero  # nothing half-written
    assert latest_dedup_stats(catalog)["threshold"] == 0  # the killed run never finished
    dedup_images(catalog, DedupOptions(threshold=6))
    assert current_duplicates(catalog) == at_six
