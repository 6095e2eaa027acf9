"""`curate export` with provenance: licence filter, ATTRIBUTION.md, the dataset card, loaders.

One real catalog with mixed licences (Commons, Openverse, ImageNet, web), failures of every
kind, a real check, dedup and screening; then real exports read back by the manifest, the
card's tables, Hugging Face ``datasets`` and ``model``.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import imagegen
import numpy as np
import pytest
from click.testing import CliRunner
from huggingface_hub import DatasetCard
from PIL import Image
from test_curate_export import read_manifest, tree_bytes

from catalog import open_catalog
from catalog.harvest import FetchResult, Provenance, record_fetches
from catalog.reviews import record_decision
from catalog.runs import finish_run, set_setting, start_run
from catalog.synsets import Synset, record_synsets
from curate.card import CARD_FILE, CRITERION_SETTING
from curate.check import CheckOptions, check_images
from curate.cli import cli
from curate.dedup import DedupOptions, dedup_images
from curate.export import EmptyExport, ExportOptions, export_dataset
from curate.licenses import parse_license, parse_license_filter
from model.data import load_export
from synthset.export_format import METADATA, METADATA_FIELDS, SPLIT_FOLDERS

WNID = "n07631926"
HOSTILE_TITLE = "[click](javascript:alert(1)) *bold*"
# seed -> (source, licence): the designed truth the filter counts are checked against
IMAGES = {
    0: ("commons", "cc-by-sa-4.0"),
    1: ("commons", "cc-by-sa-4.0"),
    2: ("commons", "cc-by-sa-3.0"),
    3: ("openverse", "cc-by-2.0"),  # found with no synset
    4: ("openverse", "cc-by-4.0"),
    5: ("openverse", "cc0-1.0"),
    6: ("openverse", "pdm"),
    7: ("openverse", "cc-by-nc-4.0"),
    8: ("openverse", "cc-by-nd-4.0"),
    9: ("commons", "gfdl-1.3"),  # a licence the family table does not know
    10: ("imagenet", None),
    11: ("imagenet", None),  # rejected
    12: ("web", None),  # skipped
    13: ("imagenet", None),  # undecided
}
CREDITED_LICENSES = {"cc-by-sa-4.0", "cc-by-sa-3.0", "cc-by-2.0", "cc-by-4.0", "cc-by-nc-4.0",
                     "cc-by-nd-4.0", "gfdl-1.3"}
ACCEPTED = [seed for seed in IMAGES if seed not in (11, 12, 13)]
ALL_LICENSES = {license or "" for _, license in IMAGES.values()}


def _provenance(seed: int, license: str | None) -> Provenance | None:
    if license is None:
        return None
    return Provenance(
        license=license, license_url=f"https://licenses.example/{license}/",
        creator=f"Baker {seed}", creator_url="javascript:alert(1)" if seed == 1
        else f"https://people.example/baker{seed}",
        landing_url=f"https://pages.example/File:Cake_{seed}.jpg",
        title=HOSTILE_TITLE if seed == 1 else f"Cake {seed}",
        attribution=f'"Cake {seed}" by Baker {seed}, {license}', source_id=f"id-{seed}",
    )


def _crawl(catalog, command: str, args: dict, results: list[FetchResult]) -> None:
    run = start_run(catalog, command, args)
    record_fetches(catalog, results)
    finish_run(catalog, run, {"fetched": len(results)})


def build_catalog(data_dir: Path):
    """The mixed catalog: crawled, checked, deduplicated and screened; returns it open."""
    catalog = open_catalog(data_dir)
    record_synsets(catalog, [Synset(WNID, "ice-cream cake, icebox cake", "a frozen dessert")])
    by_source: dict[str, list[FetchResult]] = {}
    for seed, (source, license) in IMAGES.items():
        by_source.setdefault(source, []).append(FetchResult(
            f"http://{source}.example/{seed}.jpg", source, None if seed == 3 else WNID,
            http_status=200,
            body=imagegen.jpeg(200, 150, seed=seed), provenance=_provenance(seed, license)))
    by_source["openverse"] += [
        FetchResult("http://openverse.example/noai1.jpg", "openverse", WNID, http_status=200,
                    error="opted_out"),
        FetchResult("http://openverse.example/noai2.jpg", "openverse", WNID, http_status=200,
                    error="opted_out"),
    ]
    by_source["imagenet"] += [
        FetchResult("http://imagenet.example/gone.jpg", "imagenet", WNID, http_status=404),
        FetchResult("http://imagenet.example/slow.jpg", "imagenet", WNID, error="timeout"),
        FetchResult("http://imagenet.example/private.jpg", "imagenet", WNID, error="robots"),
        FetchResult("http://imagenet.example/empty.jpg", "imagenet", WNID, http_status=200,
                    body=b""),
        FetchResult("http://imagenet.example/cut.jpg", "imagenet", WNID, http_status=200,
                    body=imagegen.truncated_jpeg(200, 150, seed=40)),
    ]
    by_source["web"].append(FetchResult(  # a smaller copy of seed 0: dedup removes it
        "http://web.example/copy.jpg", "web", WNID, http_status=200,
        body=imagegen.encode(imagegen.picture(200, 150, seed=0).resize((100, 75)), "JPEG")))
    politeness = {"DOWNLOAD_DELAY": 0.25, "ROBOTSTXT_OBEY": True}
    _crawl(catalog, "crawl commons", {"category": "Ice cream cakes", "depth": 1,
                                      "politeness": politeness}, by_source["commons"])
    _crawl(catalog, "crawl openverse", {"q": "ice cream cake", "limit": 40},
           by_source["openverse"])
    _crawl(catalog, "crawl imagenet_synset", {"wnid": [WNID], "refetch": False},
           by_source["imagenet"] + by_source["web"])
    check_images(catalog, CheckOptions(workers=1))
    dedup_images(catalog, DedupOptions(workers=1))
    set_setting(catalog, CRITERION_SETTING, "round | single-tiered cakes")
    sha = {seed: _sha(catalog, f"http://{source}.example/{seed}.jpg")
           for seed, (source, _) in IMAGES.items()}
    for seed in ACCEPTED:
        record_decision(catalog, sha[seed], "accept")
    record_decision(catalog, sha[11], "reject")
    record_decision(catalog, sha[12], "skip")
    return catalog


def _sha(catalog, url: str) -> str:
    return catalog.conn.execute("SELECT sha256 FROM urls WHERE url = ?", (url,)).fetchone()[0]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """(catalog, out folder) with the default export ``all`` already written."""
    root = tmp_path_factory.mktemp("mixed")
    catalog = build_catalog(root / "data")
    export_dataset(catalog, "all", ExportOptions(out=root / "datasets", workers=1,
                                                 val_fraction=0.3))
    yield catalog, root / "datasets"
    catalog.close()


def one(catalog, sql: str, *params) -> int:
    return catalog.conn.execute(sql, params).fetchone()[0]


# --- the catalog really is mixed (a guard for every test below) -------------------------------


def test_the_fixture_has_what_the_tests_rely_on(mixed):
    catalog, out = mixed
    rows = read_manifest(out / "all")
    assert sorted(r["license"] for r in rows) == sorted(
        IMAGES[seed][1] or "" for seed in ACCEPTED)  # the copy of seed 0 was removed, not it
    assert {r["split"] for r in rows} == {"train", "val"}
    assert one(catalog, "SELECT count(*) FROM images WHERE duplicate_of IS NOT NULL") == 1
    assert one(catalog, "SELECT count(*) FROM images WHERE status = 'corrupt'") == 1


# --- licence filter ---------------------------------------------------------------------------


def test_license_filter_keeps_families_of_every_version_and_counts_each_rule(mixed):
    catalog, out = mixed
    options = ExportOptions(out=out, workers=1, license="cc0,pdm,cc-by,cc-by-sa")
    report = export_dataset(catalog, "open", options)
    rows = read_manifest(out / "open")
    assert sorted(r["license"] for r in rows) == sorted(
        ["cc-by-sa-4.0", "cc-by-sa-4.0", "cc-by-sa-3.0", "cc-by-2.0", "cc-by-4.0", "cc0-1.0",
         "pdm"])
    meta = json.loads((out / "open" / "export.json").read_text())
    assert meta["license_filter"] == ["cc-by", "cc-by-sa", "cc0", "pdm"]
    assert meta["left_out"] == {
        "by_rule": {"unknown": 1, "not_selected": 3},
        "by_license": {"cc-by-nc-4.0": 1, "cc-by-nd-4.0": 1, "gfdl-1.3": 1, "unknown": 1},
    }
    assert report.left_out == {"unknown": 1, "not_selected": 3}
    assert report.total + 4 == len(read_manifest(out / "all"))


@pytest.mark.parametrize(("value", "dropped"), [
    ("commercial", {"cc-by-nc-4.0", "gfdl-1.3", ""}),
    ("modification", {"cc-by-nd-4.0", "gfdl-1.3", ""}),
    ("cc-by-sa-4.0", ALL_LICENSES - {"cc-by-sa-4.0"}),
])
def test_shorthands_and_exact_versions(mixed, tmp_path, value, dropped):
    catalog, out = mixed
    export_dataset(catalog, "x", ExportOptions(out=tmp_path, workers=1, license=value))
    everything = {r["license"] for r in read_manifest(out / "all")}
    assert {r["license"] for r in read_manifest(tmp_path / "x")} == everything - dropped


def test_a_filter_that_keeps_nothing_is_an_error_that_says_so(mixed, tmp_path):
    catalog, _ = mixed
    message = f"none of the {len(ACCEPTED)} images .* --license cc-by-nc-nd keeps"
    with pytest.raises(EmptyExport, match=message):
        export_dataset(catalog, "none", ExportOptions(out=tmp_path, license="cc-by-nc-nd"))
    assert list(tmp_path.iterdir()) == []


def test_license_ids_split_into_family_version_and_port():
    assert parse_license("cc-by-sa-3.0-de").family == "cc-by-sa"
    assert parse_license("cc-by-sa-3.0-de").canonical_url == (
        "https://creativecommons.org/licenses/by-sa/3.0/de/")
    assert (parse_license("cc0-1.0").family, parse_license("cc0-1.0").version) == ("cc0", "1.0")
    assert parse_license("cc-by").family == "cc-by" and parse_license("cc-by").version is None
    assert parse_license("cc-by-nc-nd-4.0").name == "CC BY-NC-ND 4.0"
    assert parse_license("cc-by-3.0-igo").name == "CC BY 3.0 IGO"  # as the crawler labels it
    assert parse_license("cc-sampling+-1.0").asks_for_credit  # not in the table: credit it
    chosen = parse_license_filter("cc-by")
    assert chosen.rule_against("cc-by-2.5-igo") is None
    assert chosen.rule_against("cc-by-sa-4.0") == "not_selected"  # another family
    assert chosen.rule_against(None) == "unknown"
    assert parse_license_filter(None).rule_against(None) is None  # no filter keeps everything


def test_cli_bad_license_is_one_error_line_naming_the_valid_values(mixed, tmp_path):
    catalog, _ = mixed
    before = one(catalog, "SELECT count(*) FROM runs WHERE command = 'export'")
    result = CliRunner().invoke(cli, ["export", "x", "--data", str(catalog.path.parent),
                                      "--out", str(tmp_path), "--license", "cc-by,by-sa"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: --license 'by-sa' is not"), lines
    for valid in ("cc0", "pdm", "cc-by-sa", "cc-by-nc-nd", "commercial", "modification"):
        assert valid in lines[0]
    assert one(catalog, "SELECT count(*) FROM runs WHERE command = 'export'") == before
    assert not (tmp_path / "x").exists()


def test_cli_filter_reports_what_it_left_out(mixed, tmp_path):
    catalog, _ = mixed
    result = CliRunner().invoke(cli, ["export", "x", "--data", str(catalog.path.parent),
                                      "--out", str(tmp_path), "--workers", "1",
                                      "--license", "commercial"])
    assert result.exit_code == 0, result.output
    assert "left out" in result.output
    meta = json.loads((tmp_path / "x" / "export.json").read_text())
    assert meta["left_out"]["by_rule"] == {"unknown": 1, "not_selected": 2}


# --- manifest and attribution -----------------------------------------------------------------


def test_manifest_carries_each_images_provenance(mixed):
    catalog, out = mixed
    rows = read_manifest(out / "all")
    for row in rows:
        facts = catalog.conn.execute(
            "SELECT license, license_url, creator, landing_url, attribution FROM urls "
            "WHERE url = ?", (row["url"],)).fetchone()
        assert [row[k] for k in ("license", "license_url", "creator", "landing_url",
                                 "attribution")] == [value or "" for value in facts]


def test_attribution_credits_exactly_the_images_whose_licence_asks(mixed):
    _, out = mixed
    rows = read_manifest(out / "all")
    text = (out / "all" / "ATTRIBUTION.md").read_text()
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    credited = {re.match(r"- `([^`]+)`", line).group(1) for line in lines}
    assert len(lines) == len(credited)
    assert credited == {r["file"] for r in rows if r["license"] in CREDITED_LICENSES}
    assert "Changes made to every image: converted to grayscale, centre-cropped" in text
    by_file = {re.match(r"- `([^`]+)`", line).group(1): line for line in lines}
    for row in rows:
        if row["file"] not in by_file:
            continue
        line = by_file[row["file"]]
        name = parse_license(row["license"]).name
        assert f"[{name}]({row['license_url']})" in line  # licence and its link
        assert f"({row['landing_url']})" in line  # source
        assert row["creator"] in line  # author
    hostile = by_file[next(r["file"] for r in rows if r["creator"] == "Baker 1")]
    assert "](javascript:" not in hostile  # neither the title's link nor the creator's
    assert r"\[click\]\(javascript:alert\(1\)\) \*bold\*" in hostile
    assert "Baker 1," in hostile  # the creator is named, not linked


# --- the dataset card -------------------------------------------------------------------------


def card_parts(folder: Path) -> tuple[dict, dict[str, list[dict[str, str]]], str]:
    """(header as Hugging Face reads it, tables by section heading, body) of the README.md."""
    card = DatasetCard.load(folder / CARD_FILE)
    header, body = card.data.to_dict(), card.text
    tables: dict[str, list[dict[str, str]]] = {}
    section, rows, columns = "", [], None
    for line in body.splitlines() + [""]:
        if line.startswith("## "):
            section = line[3:]
        if line.startswith("|") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            if columns is None:
                columns = cells
            else:
                rows.append(dict(zip(columns, cells, strict=True)))
        elif not line.startswith("|---") and columns is not None:
            tables.setdefault(section, []).extend(rows)
            rows, columns = [], None
    return header, tables, body


def test_card_header_is_a_hugging_face_dataset_card(mixed):
    _, out = mixed
    header, _, _ = card_parts(out / "all")
    assert header["license"] == ["cc-by-2.0", "cc-by-4.0", "cc-by-nc-4.0", "cc-by-nd-4.0",
                                 "cc-by-sa-3.0", "cc-by-sa-4.0", "cc0-1.0", "other", "unknown"]
    assert header["size_categories"] == ["n<1K"]
    assert header["task_categories"] == ["unconditional-image-generation"]
    assert header["pretty_name"] == "all: ice-cream cake"
    assert header["configs"] == [{"config_name": "default", "data_files": [
        {"split": "train", "path": "images/train/*"},
        {"split": "validation", "path": "images/validation/*"}]}]


def test_every_stage_count_in_the_card_matches_the_catalog(mixed):
    catalog, out = mixed
    _, tables, _ = card_parts(out / "all")
    stages = {row["stage"]: int(row["count"]) for row in tables["Counts at every stage"]}
    ok_kept = "FROM images i LEFT JOIN decisions d USING (sha256) " \
              "WHERE i.status = 'ok' AND i.duplicate_of IS NULL"
    rows = read_manifest(out / "all")
    expected = {
        "URLs found": one(catalog, "SELECT count(*) FROM urls"),
        "URLs fetched": one(catalog, "SELECT count(*) FROM urls WHERE fetched_at IS NOT NULL"),
        "fetch errors (any error token)": one(catalog,
                                              "SELECT count(*) FROM urls WHERE error IS NOT NULL"),
        "HTTP errors (status 400 or more)": one(
            catalog, "SELECT count(*) FROM urls WHERE error IS NULL AND http_status >= 400"),
        "refused by robots.txt": one(catalog, "SELECT count(*) FROM urls WHERE error = 'robots'"),
        "opted out (X-Robots-Tag)": one(
            catalog, "SELECT count(*) FROM urls WHERE error = 'opted_out'"),
        "dead (judged by curate check)": one(
            catalog, "SELECT count(*) FROM urls WHERE status = 'dead'"),
        "distinct images stored": one(catalog, "SELECT count(*) FROM images"),
        "unchecked": one(catalog, "SELECT count(*) FROM images WHERE status IS NULL"),
        "duplicate (removed by curate dedup)": one(
            catalog, "SELECT count(*) FROM images WHERE duplicate_of IS NOT NULL"),
        "screened: undecided": one(catalog, f"SELECT count(*) {ok_kept} AND d.decision IS NULL"),
        "export candidates": one(catalog, f"SELECT count(*) {ok_kept} AND d.decision = 'accept'"),
        "left out: unknown licence": 0,
        "left out: licence not selected": 0,
        "left out: undecodable": 0,
        "exported": len(rows),
    }
    for status in ("empty", "corrupt", "not_image", "placeholder", "too_small", "ok"):
        expected[status.replace("_", " ")] = one(
            catalog, "SELECT count(*) FROM images WHERE status = ?", status)
    for decision, label in (("accept", "accepted"), ("reject", "rejected"), ("skip", "skipped")):
        expected[f"screened: {label}"] = one(
            catalog, f"SELECT count(*) {ok_kept} AND d.decision = ?", decision)
    assert stages == expected
    # the stages the issue names are all there and none is trivially zero in this catalog
    for stage in ("URLs found", "dead (judged by curate check)", "empty", "corrupt",
                  "opted out (X-Robots-Tag)", "duplicate (removed by curate dedup)",
                  "screened: rejected", "screened: accepted", "exported"):
        assert stages[stage] > 0, stage


def test_card_sources_runs_licences_and_splits_match_catalog_and_export(mixed):
    catalog, out = mixed
    _, tables, body = card_parts(out / "all")
    sources = [(r["source"], int(r["URLs found"]), int(r["fetched"]), r["first found"],
                r["last found"]) for r in tables["Sources"] if "source" in r]
    assert sources == [tuple(row) for row in catalog.conn.execute(
        "SELECT source, count(*), count(fetched_at), min(discovered_at), max(discovered_at) "
        "FROM urls GROUP BY source ORDER BY source")]
    runs = [(int(r["run"]), r["command"].strip("`"), r["started"], r["queries"])
            for r in tables["Sources"] if "run" in r]
    recorded = catalog.conn.execute(
        "SELECT id, command, started_at FROM runs WHERE command LIKE 'crawl %' ORDER BY id")
    assert [run[:3] for run in runs] == [tuple(row) for row in recorded]
    assert runs[0][3] == "category=Ice cream cakes; depth=1"
    assert runs[1][3] == "q=ice cream cake; limit=40"
    assert runs[2][3] == f"wnid={WNID}"
    synsets = {r["wnid"]: int(r["images exported"]) for r in tables["Sources"] if "wnid" in r}
    rows = read_manifest(out / "all")
    assert synsets == dict(Counter(r["wnid"] or "(none)" for r in rows))
    assert synsets == {WNID: len(rows) - 1, "(none)": 1}  # seed 3 was found with no synset
    licences = {r["licence"]: int(r["images"]) for r in tables["Licences"]}
    assert licences == dict(Counter(r["license"] or "unknown" for r in rows))
    credit = {r["licence"]: r["credit required"] for r in tables["Licences"]}
    assert credit["cc0-1.0"] == credit["pdm"] == "no" and credit["cc-by-sa-3.0"] == "yes"
    splits = Counter(SPLIT_FOLDERS[r["split"]] for r in rows)
    assert f"Images: train {splits['train']}, validation {splits['validation']}." in body
    assert f"{len(rows)} images ({splits['train']} train, {splits['validation']} validation)" \
        in body
    assert "run 1 (`crawl commons`): DOWNLOAD_DELAY=0.25; ROBOTSTXT_OBEY=True" in body
    for token, label in (("robots", "refused by robots.txt"),
                         ("opted_out", "opted out (X-Robots-Tag)")):
        count = one(catalog, "SELECT count(*) FROM urls WHERE error = ?", token)
        assert f"- {label}: {count} URL(s), never stored or exported" in body
    assert "- Criterion: round \\| single-tiered cakes" in body
    accepted = one(catalog, "SELECT count(*) FROM decisions WHERE decision = 'accept'")
    assert f"{accepted} accepted, 1 rejected, 1 skipped, 1 undecided" in body
    assert "`int(sha256[:8], 16) / 2**32 < 0.3`" in body
    assert "resized to 100x100 with `cv2.resize(..., interpolation=INTER_LINEAR)`" in body
    unknown = sum(1 for r in rows if not r["license"])
    assert f"- {unknown} images have no licence recorded" in body


def test_card_of_a_filtered_export_counts_what_the_filter_left_out(mixed, tmp_path):
    catalog, _ = mixed
    export_dataset(catalog, "open", ExportOptions(out=tmp_path, workers=1, license="cc-by-sa"))
    header, tables, body = card_parts(tmp_path / "open")
    stages = {row["stage"]: int(row["count"]) for row in tables["Counts at every stage"]}
    meta = json.loads((tmp_path / "open" / "export.json").read_text())
    assert stages["left out: unknown licence"] == meta["left_out"]["by_rule"]["unknown"] == 1
    assert stages["left out: licence not selected"] == meta["left_out"]["by_rule"][
        "not_selected"] == len(ACCEPTED) - 3 - 1
    assert stages["exported"] == meta["counts"]["total"] == 3
    assert header["license"] == ["cc-by-sa-3.0", "cc-by-sa-4.0"]
    assert "Licence filter `--license cc-by-sa`" in body
    assert "have no licence recorded" not in body


def test_criterion_key_is_the_one_curate_review_remembers():
    from curate.review.app import CRITERION_SETTING as REVIEW_KEY

    assert CRITERION_SETTING == REVIEW_KEY


# --- loaders ----------------------------------------------------------------------------------


@pytest.fixture
def hf_datasets(tmp_path, monkeypatch):
    """The ``datasets`` package, offline, with its caches in ``tmp_path``."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    import datasets  # the dev extra installs it

    datasets.disable_progress_bars()
    return datasets


@pytest.mark.parametrize("how", ["card", "imagefolder"])
def test_hugging_face_loads_both_splits_with_pixels_and_metadata(mixed, hf_datasets, tmp_path,
                                                                how):
    _, out = mixed
    folder = out / "all"
    if how == "card":
        loaded = hf_datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "c"))
    else:
        loaded = hf_datasets.load_dataset("imagefolder", data_dir=str(folder),
                                          cache_dir=str(tmp_path / "c"))
    rows = read_manifest(folder)
    assert set(loaded) == {"train", "validation"}
    for split, name in SPLIT_FOLDERS.items():
        expected = {int(r["index"]): r for r in rows if r["split"] == split}
        part = loaded[name]
        assert len(part) == len(expected) > 0
        assert set(part.column_names) == {"image", *METADATA_FIELDS}
        for example in part:
            row = expected.pop(example["index"])
            assert {k: example[k] for k in METADATA_FIELDS if k != "index"} == {
                k: row[k] for k in METADATA_FIELDS if k != "index"}
            with Image.open(folder / row["file"]) as png:
                assert np.array_equal(np.asarray(example["image"]), np.asarray(png))
        assert not expected  # every image of the split came back once


def test_metadata_files_list_exactly_their_split(mixed):
    _, out = mixed
    rows = read_manifest(out / "all")
    for split, name in SPLIT_FOLDERS.items():
        lines = (out / "all" / "images" / name / METADATA).read_text().splitlines()
        records = [json.loads(line) for line in lines]
        assert [r["file_name"] for r in records] == [
            Path(r["file"]).name for r in rows if r["split"] == split]
        assert all(isinstance(r["license"], str) for r in records)  # "" when unknown


@pytest.mark.model
def test_keras_reads_the_images_of_both_splits(mixed):
    import keras

    _, out = mixed
    rows = read_manifest(out / "all")
    images = out / "all" / "images"
    unlabelled = keras.utils.image_dataset_from_directory(
        images, labels=None, image_size=(100, 100), color_mode="grayscale", shuffle=False)
    assert sum(int(batch.shape[0]) for batch in unlabelled) == len(rows)
    by_split = keras.utils.image_dataset_from_directory(
        images, image_size=(100, 100), color_mode="grayscale", shuffle=False)
    assert by_split.class_names == ["train", "validation"]
    labels = np.concatenate([label.numpy() for _, label in by_split])
    assert int((labels == 1).sum()) == sum(r["split"] == "val" for r in rows)


def test_model_reads_this_export_and_hashes_its_content(mixed):
    _, out = mixed
    loaded = load_export(out / "all")
    rows = read_manifest(out / "all")
    meta = json.loads((out / "all" / "export.json").read_text())
    assert len(loaded.train) + len(loaded.val) == len(rows)
    assert len(loaded.val) == sum(r["split"] == "val" for r in rows)
    assert loaded.dataset_hash == meta["content_sha256"]


def test_model_still_reads_a_version_1_export(mixed, tmp_path):
    """The flat layout of format version 1: images/NNNNN.png, seven manifest columns."""
    _, out = mixed
    new = load_export(out / "all")
    old = tmp_path / "v1"
    (old / "images").mkdir(parents=True)
    rows = read_manifest(out / "all")
    with open(old / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["index", "file", "sha256", "url", "wnid", "source",
                                         "split"], extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            flat = f"images/{int(row['index']):05d}.png"
            shutil.copy(out / "all" / row["file"], old / flat)
            writer.writerow({**row, "file": flat})
    meta = json.loads((out / "all" / "export.json").read_text())
    meta.update(format_version=1, pixel_cache=None)
    (old / "export.json").write_text(json.dumps(meta))
    loaded = load_export(old)
    assert np.array_equal(loaded.train, new.train) and np.array_equal(loaded.val, new.val)


# --- the content hash -------------------------------------------------------------------------


@pytest.mark.parametrize("change", [{"size": 64}, {"color": "rgb"}])
def test_exports_differing_only_in_size_or_colour_hash_differently(mixed, tmp_path, change):
    catalog, out = mixed
    base = json.loads((out / "all" / "export.json").read_text())
    export_dataset(catalog, "other", ExportOptions(out=tmp_path, workers=1, val_fraction=0.3,
                                                   **change))
    other = json.loads((tmp_path / "other" / "export.json").read_text())
    assert read_manifest(tmp_path / "other") == read_manifest(out / "all")  # same images
    assert other["content_sha256"] != base["content_sha256"]
    assert load_export(tmp_path / "other").dataset_hash == other["content_sha256"]
    export_dataset(catalog, "other", ExportOptions(out=tmp_path, workers=2, val_fraction=0.3,
                                                   overwrite=True, **change))
    again = json.loads((tmp_path / "other" / "export.json").read_text())
    assert again["content_sha256"] == other["content_sha256"]  # control: a re-export matches


def test_reexport_with_provenance_is_byte_identical(mixed, tmp_path):
    catalog, out = mixed
    export_dataset(catalog, "all", ExportOptions(out=tmp_path, workers=2, val_fraction=0.3))
    first, second = tree_bytes(out / "all"), tree_bytes(tmp_path / "all")
    first.pop("export.json"), second.pop("export.json")
    assert first == second
    assert {"README.md", "ATTRIBUTION.md", "images/train/metadata.jsonl"} <= set(first)
