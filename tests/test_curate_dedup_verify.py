"""curate dedup with verification: every edit of a real photograph is found (one test each),
different photographs of one scene are not merged (one test each), reruns and reviewer
decisions hold, and the evidence reaches the report and the review."""

from __future__ import annotations

import asyncio
import io
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import imagegen
import numpy as np
import pytest
from click.testing import CliRunner
from photo_variants import (
    EXTRA_TRANSFORMS,
    HARD_NEGATIVES,
    TRANSFORMS,
    encode,
    hard_negatives,
    load_photo,
    thumbnail,
)
from PIL import Image
from textual.widgets import Static

from catalog import Catalog, open_catalog
from catalog.duplicates import (
    break_group,
    break_member,
    choose_keeper,
    current_duplicates,
    dedup_candidates,
    duplicate_groups,
)
from catalog.harvest import FetchResult, record_fetches
from crawler.mirror.drawing import draw_cake as mirror_cake
from crawler.mirror.drawing import random_cake_spec
from curate.check import CheckOptions, check_images
from curate.cli import cli
from curate.decode import decode_image
from curate.dedup import DedupOptions, DedupReport, dedup_images
from curate.hashing import HASH_VERSION, hamming, perceptual_hashes
from curate.pairs import find_candidates
from curate.review.duplicates import DuplicatesApp, evidence_lines
from curate.review.protocols import image_widget
from curate.review.sample import draw_cake
from curate.verify import prepare, verify

# Two photographs, shrunk to 256 px so the module stays fast: one in colour, one grey.
SUBJECTS = ("astronaut", "camera")
SIDE = 256


def _url(subject: str, edit: str) -> str:
    return f"http://127.0.0.1/{subject}/{edit}"


def _photos() -> dict[str, bytes]:
    """url -> body: each subject's original (PNG), each edit of it, each hard negative."""
    bodies = {}
    for subject in SUBJECTS:
        original = thumbnail(load_photo(subject), SIDE)
        bodies[_url(subject, "original")] = encode(original)
        for edit, make in TRANSFORMS.items():
            bodies[_url(subject, edit)] = make(original)
    for name, (first, second) in hard_negatives().items():
        for part, body in (("a", first), ("b", second)):
            image = decode_image(body, draft_side=None).image
            bodies[_url(name, part)] = encode(thumbnail(image, SIDE))
    return bodies


@pytest.fixture(scope="module")
def deduped(tmp_path_factory: pytest.TempPathFactory):
    """A checked catalog of the photos, deduplicated at the defaults: (data dir, url -> sha)."""
    data_dir = tmp_path_factory.mktemp("verify") / "data"
    by_url, report = _checked_and_deduplicated(data_dir, _photos())
    assert report.verified_pairs > 0 and report.rejected_pairs >= 0
    return data_dir, by_url


def _checked_and_deduplicated(data_dir: Path, bodies: dict[str, bytes]) -> tuple[dict, DedupReport]:
    """Record ``bodies`` (url -> bytes) as fetched, check and deduplicate them at the defaults
    (one worker): (url -> sha256, the dedup report)."""
    with open_catalog(data_dir) as catalog:
        record_fetches(catalog, [FetchResult(url, "web", http_status=200, body=body)
                                 for url, body in bodies.items()])
        check_images(catalog, CheckOptions(workers=1, shared_urls=0))
        by_url = {url: catalog.store.put(body).sha256 for url, body in bodies.items()}
        report = dedup_images(catalog, DedupOptions(workers=1))
    return by_url, report


@pytest.fixture
def fresh(deduped, tmp_path):
    """A private copy of the deduplicated catalog: (catalog, url -> sha256)."""
    source, by_url = deduped
    with _private_copy(source, tmp_path) as catalog:
        yield catalog, by_url


@contextmanager
def _private_copy(source: Path, tmp_path: Path) -> Iterator[Catalog]:
    """The catalog of data directory ``source``, copied under ``tmp_path`` and opened."""
    shutil.copytree(source, tmp_path / "data")
    catalog = open_catalog(tmp_path / "data", create=False)
    try:
        yield catalog
    finally:
        catalog.close()


def _group_of(duplicates: dict[str, tuple[str, str | None]], sha256: str) -> str:
    """The keeper of the group ``sha256`` is in (itself when it is a keeper or alone)."""
    return duplicates[sha256][0] if sha256 in duplicates else sha256


@pytest.mark.parametrize("edit", sorted(TRANSFORMS))
@pytest.mark.parametrize("subject", SUBJECTS)
def test_each_edit_of_a_photograph_joins_its_group_with_evidence(deduped, subject, edit):
    data_dir, by_url = deduped
    with open_catalog(data_dir, create=False) as catalog:
        duplicates = current_duplicates(catalog)
    original, edited = by_url[_url(subject, "original")], by_url[_url(subject, edit)]
    assert _group_of(duplicates, edited) == _group_of(duplicates, original)
    member = edited if edited in duplicates else original
    reason = duplicates[member][1]
    assert reason.startswith("same pixels as ") or "; verified: " in reason, reason


def test_the_subjects_stay_apart(deduped):
    data_dir, by_url = deduped
    with open_catalog(data_dir, create=False) as catalog:
        duplicates = current_duplicates(catalog)
    first, second = (_group_of(duplicates, by_url[_url(s, "original")]) for s in SUBJECTS)
    assert first != second


@pytest.mark.parametrize("name", HARD_NEGATIVES)
def test_each_hard_negative_stays_apart(deduped, name):
    data_dir, by_url = deduped
    with open_catalog(data_dir, create=False) as catalog:
        duplicates = current_duplicates(catalog)
    first, second = by_url[_url(name, "a")], by_url[_url(name, "b")]
    assert _group_of(duplicates, first) != _group_of(duplicates, second)


@pytest.mark.parametrize("name", HARD_NEGATIVES)
def test_each_hard_negative_is_rejected_by_the_pictures_alone(name):
    """Whether or not the hashes propose them, the verification says no, and says why."""
    first, second = (prepare(decode_image(body).image) for body in hard_negatives()[name])
    evidence = verify(first, second)
    assert not evidence.duplicate
    if name.startswith("pan40_"):  # the keypoints agree; one picture does not contain the other
        assert evidence.failed == "neither picture contains the other", evidence.describe()
        assert evidence.contained < 0.7
    assert evidence.describe().startswith("not verified")


def test_the_hard_negatives_are_the_ones_named():
    assert sorted(hard_negatives()) == sorted(HARD_NEGATIVES)


def test_a_verified_crop_reports_its_geometry():
    photo = thumbnail(load_photo("coffee"), SIDE)
    evidence = verify(prepare(photo), prepare(decode_image(TRANSFORMS["crop10"](photo)).image))
    assert evidence.duplicate, evidence.describe()
    assert 0.75 < evidence.scale < 0.85 and abs(evidence.rotation) < 1
    assert evidence.contained > 0.95 and 0.55 < evidence.cover < 0.75


def test_verification_can_be_switched_off_and_then_hashes_alone_decide(fresh):
    catalog, by_url = fresh
    report = dedup_images(catalog, DedupOptions(verify=False, threshold=6, workers=1))
    assert report.verified_pairs == report.rejected_pairs == 0
    duplicates = current_duplicates(catalog)
    crop = by_url[_url("astronaut", "crop10")]
    assert crop not in duplicates  # a 10% crop is far from the original by pHash
    assert all("verified" not in reason for _, reason in duplicates.values())


def test_rerun_changes_nothing(fresh):
    catalog, _ = fresh
    before = current_duplicates(catalog)
    again = dedup_images(catalog, DedupOptions(workers=1))
    assert again.changed == 0 and current_duplicates(catalog) == before


def test_keeper_choice_and_not_duplicates_survive_the_verified_rerun(fresh):
    catalog, by_url = fresh
    duplicates = current_duplicates(catalog)
    keeper = _group_of(duplicates, by_url[_url("astronaut", "original")])
    crop = by_url[_url("astronaut", "crop10")]
    choose_keeper(catalog, keeper, crop)
    camera = _group_of(duplicates, by_url[_url("camera", "original")])
    freed = break_group(catalog, camera)
    dedup_images(catalog, DedupOptions(workers=1))
    after = current_duplicates(catalog)
    assert crop not in after and after[keeper][0] == crop
    assert "(keeper chosen in review)" in after[keeper][1]
    in_groups = {_group_of(after, s) for s in [camera, *freed]}
    assert len(in_groups) == 1 + len(freed)  # no two of the broken group share a group again


def test_cli_reports_the_evidence_per_member(fresh):
    catalog, by_url = fresh
    result = CliRunner().invoke(
        cli, ["dedup", "--data", str(catalog.data_dir), "--show-groups", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "verified:" in result.output and "matching keypoints" in result.output
    assert "verified pairs" in result.output


def test_review_shows_each_members_evidence(fresh):
    catalog, by_url = fresh
    group = next(g for g in duplicate_groups(catalog)
                 if by_url[_url("astronaut", "crop10")] in g.sha256s)
    lines = evidence_lines(group, limit=9)
    assert len(lines) == min(len(group.members), 8)
    assert any("verified:" in line for line in lines)
    assert all(line[0].isdigit() for line in lines)


def test_a_crop_is_a_candidate_by_a_centre_hash_and_not_by_phash_alone():
    photo = load_photo("chelsea")
    rows = [perceptual_hashes(photo),
            perceptual_hashes(decode_image(TRANSFORMS["crop10"](photo)).image)]
    hashes = {name: np.array([r[name] for r in rows], dtype=np.int64) for name in rows[0]}
    radius = DedupOptions().threshold
    assert hamming(rows[0]["phash"], rows[1]["phash"]) > radius  # pHash alone misses it
    assert len(find_candidates(hashes, "phash", radius, crops=False)) == 0
    found = find_candidates(hashes, "phash", radius, crops=True)
    assert (found.left.tolist(), found.right.tolist()) == ([0], [1])
    assert found.label(0).startswith("centre") and int(found.distance[0]) <= radius


def test_review_screen_shows_each_members_evidence_under_the_tiles(fresh):
    catalog, by_url = fresh
    crop = by_url[_url("astronaut", "crop10")]
    app = DuplicatesApp(catalog, image_widget("halfcell"))
    app.groups = [g for g in app.groups if crop in g.sha256s]  # start at that group

    async def shown() -> str:
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            return str(app.query_one("#dup-evidence", Static).content)

    text = asyncio.run(shown())
    assert text.splitlines() == evidence_lines(app.groups[0])
    assert "verified:" in text and "matching keypoints" in text


def test_two_drawings_of_one_style_are_not_verified():
    """Two mirror cakes correlate 0.99 frame to frame; the keypoints must decide (no fallback)."""
    first, second = (prepare(decode_image(draw_cake(seed)).image) for seed in (300, 301))
    evidence = verify(first, second)
    assert not evidence.duplicate and "agree on one geometry" in evidence.failed


def test_a_thumbnail_of_a_drawing_with_few_keypoints_is_verified_by_its_framing():
    """Geometry cannot speak (too few keypoints agree); same framing, pHash and pixels do."""
    drawing = imagegen.picture(200, 150, seed=0)
    original = prepare(Image.open(io.BytesIO(imagegen.encode(drawing, "JPEG"))))
    small = prepare(Image.open(io.BytesIO(imagegen.encode(drawing.resize((100, 75)), "JPEG"))))
    evidence = verify(original, small)
    assert evidence.duplicate and evidence.framing
    assert evidence.describe().startswith("verified by same framing")


def test_same_framing_does_not_merge_different_drawings_of_one_aspect():
    """Mirror cakes 3 and 10: one aspect, pixels correlating 0.98, pHashes 19 bits apart."""
    first, second = (prepare(mirror_cake(random_cake_spec(seed)).convert("RGB"))
                     for seed in (3, 10))
    assert not verify(first, second).duplicate


# --- a larger copy visited first must not split an original from its edits -------------

# At full size, the caption-band copy of `cell` (a white band added under the picture, so
# it is the largest file and the first keeper) is within the radius of these edits and
# not of the original.
BAND_SUBJECT = "cell"
BAND_EDITS = ("jpeg_q25", "half_size", "rotate3", "jpeg_q20", "grayscale", "crop4", "darker20")


@pytest.fixture(scope="module")
def banded(tmp_path_factory: pytest.TempPathFactory):
    """A checked, deduplicated catalog of the photograph, its caption-band copy and
    some edits: (data dir, name -> sha256)."""
    photo = load_photo(BAND_SUBJECT)
    bodies = {"original": encode(photo), "caption_band": EXTRA_TRANSFORMS["caption_band"](photo)}
    bodies.update({edit: TRANSFORMS[edit](photo) for edit in BAND_EDITS})
    data_dir = tmp_path_factory.mktemp("banded") / "data"
    by_url, _ = _checked_and_deduplicated(
        data_dir, {_url(BAND_SUBJECT, name): body for name, body in bodies.items()}
    )
    return data_dir, {name: by_url[_url(BAND_SUBJECT, name)] for name in bodies}


@pytest.fixture
def banded_copy(banded, tmp_path):
    """A private copy of the banded catalog: (catalog, name -> sha256)."""
    source, by_name = banded
    with _private_copy(source, tmp_path) as catalog:
        yield catalog, by_name


def test_the_larger_copy_is_near_some_edits_and_far_from_the_original(banded_copy):
    catalog, by_name = banded_copy
    rows = {c.sha256: c for c in dedup_candidates(catalog, HASH_VERSION)}
    names = list(by_name)
    hashes = {h: np.array([getattr(rows[by_name[n]], h) for n in names], dtype=np.int64)
              for h in ("phash", "centre5_phash", "centre10_phash")}
    found = find_candidates(hashes, "phash", DedupOptions().threshold, crops=True)
    pairs = {frozenset((names[a], names[b]))
             for a, b in zip(found.left.tolist(), found.right.tolist(), strict=True)}
    assert frozenset(("original", "caption_band")) not in pairs
    assert sum("caption_band" in pair for pair in pairs) >= 2
    assert max(rows, key=lambda sha: rows[sha].area) == by_name["caption_band"]


def test_the_original_joins_the_larger_copys_group_verified_against_it(banded_copy):
    catalog, by_name = banded_copy
    duplicates = current_duplicates(catalog)
    keeper = by_name["caption_band"]  # the largest picture keeps the group
    assert keeper not in duplicates
    assert {name for name, sha in by_name.items() if _group_of(duplicates, sha) == keeper} \
        == set(by_name)
    reason = duplicates[by_name["original"]][1]
    assert "near member " in reason and "; verified: " in reason, reason
    assert reason.split("; ")[0].endswith(f"to {keeper[:12]}")


def test_reruns_keeper_choices_and_not_duplicates_hold_with_members_neighbours(banded_copy):
    catalog, by_name = banded_copy
    before = current_duplicates(catalog)
    assert dedup_images(catalog, DedupOptions(workers=1)).changed == 0
    assert current_duplicates(catalog) == before
    original, band = by_name["original"], by_name["caption_band"]
    choose_keeper(catalog, band, original)
    dedup_images(catalog, DedupOptions(workers=1))
    after = current_duplicates(catalog)
    assert original not in after and after[band][0] == original
    assert break_member(catalog, band) == original
    dedup_images(catalog, DedupOptions(workers=1))
    after = current_duplicates(catalog)
    assert band not in after  # apart from every image of its former group, so alone
    assert all(keeper != band for keeper, _ in after.values())
