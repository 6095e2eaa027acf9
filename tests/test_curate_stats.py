"""curate stats: counts per status, source, synset, duplicates and review progress."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import imagegen
from click.testing import CliRunner

from catalog import open_catalog
from catalog.harvest import FetchResult, record_fetches
from catalog.reviews import record_decision, undo_review
from catalog.synsets import Synset, record_synsets
from curate.check import CheckOptions, check_images
from curate.cli import cli

ICE = "n07631926"


def photo(url: str, seed: int) -> FetchResult:
    return FetchResult(url, "imagenet", ICE, http_status=200, body=imagegen.jpeg(seed=seed))


def build_and_check(data_dir) -> dict[str, str]:
    """A checked catalog with three sources and two synsets; returns sha256 by URL name."""
    results = [
        photo("http://a.test/1.jpg", seed=1),
        photo("http://a.test/2.jpg", seed=2),
        photo("http://a.test/3.jpg", seed=3),
        photo("http://a.test/4.jpg", seed=4),
        FetchResult("http://a.test/gone.jpg", "imagenet", ICE, http_status=404),
        FetchResult("http://a.test/cut.jpg", "imagenet", "n07628870", http_status=200,
                    body=imagegen.truncated_jpeg(seed=5)),
        FetchResult("http://w.test/page.jpg", "web", None, http_status=200, body=imagegen.html()),
        FetchResult("http://w.test/x.jpg", "web", None, error="timeout"),
        FetchResult("file:///pics/empty.jpg", "local", ICE, body=b""),
        FetchResult("file:///pics/small.png", "local", ICE, body=imagegen.png(20, 20, seed=6)),
    ]  # fmt: skip
    with open_catalog(data_dir) as catalog:
        record_synsets(
            catalog, [Synset(ICE, "ice-cream cake, icebox cake"), Synset("n07628870", "cake")]
        )
        record_fetches(catalog, results)
        check_images(catalog, CheckOptions(workers=1))
        rows = catalog.conn.execute("SELECT url, sha256 FROM urls WHERE sha256 IS NOT NULL")
        return {row["url"].rsplit("/", 1)[1]: row["sha256"] for row in rows}


def stats_json(data_dir) -> dict:
    result = CliRunner().invoke(cli, ["stats", "--json"], env={"SYNTHSET_DATA": str(data_dir)})
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_stats_json_counts_statuses_sources_and_synsets(data_dir):
    build_and_check(data_dir)
    doc = stats_json(data_dir)
    assert doc["format_version"] == 1
    assert doc["statuses"] == {
        "ok": 4, "dead": 2, "empty": 1, "corrupt": 1, "not_image": 1, "placeholder": 0,
        "too_small": 1, "unchecked": 0,
    }  # fmt: skip
    assert doc["urls"] == {
        "total": 10,
        "fetched": 10,
        "unfetched": 0,
        "failed": 2,
        "dead": 2,
        "with_body": 8,
    }
    assert doc["images"] == {"total": 8, "checked": 8}
    assert doc["sources"] == {
        "imagenet": {"urls": 6, "fetched": 6, "dead": 1, "images": 5, "ok": 4},
        "local": {"urls": 2, "fetched": 2, "dead": 0, "images": 2, "ok": 0},
        "web": {"urls": 2, "fetched": 2, "dead": 1, "images": 1, "ok": 0},
    }
    assert doc["synsets"][ICE] == {
        "words": "ice-cream cake, icebox cake",
        "urls": 7, "fetched": 7, "dead": 1, "images": 6, "ok": 4,
    }  # fmt: skip
    assert doc["synsets"]["n07628870"]["images"] == 1
    assert doc["synsets"]["none"]["urls"] == 2
    assert doc["duplicates"] == {"removed": 0, "kept_for": 0}
    assert doc["review"] == {
        "reviewable": 4,
        "accepted": 0,
        "rejected": 0,
        "skipped": 0,
        "undecided": 4,
    }


def test_stats_follow_duplicates_and_decisions_in_force(data_dir):
    sha = build_and_check(data_dir)
    with open_catalog(data_dir, create=False) as catalog:
        with catalog.transaction() as conn:  # what curate dedup records
            conn.execute(
                "UPDATE images SET duplicate_of = ? WHERE sha256 = ?", (sha["1.jpg"], sha["2.jpg"])
            )
        record_decision(catalog, sha["1.jpg"], "accept")
        record_decision(catalog, sha["3.jpg"], "reject")
        withdrawn = record_decision(catalog, sha["4.jpg"], "accept")
        undo_review(catalog, withdrawn)
        record_decision(catalog, sha["4.jpg"], "skip")
    doc = stats_json(data_dir)
    assert doc["duplicates"] == {"removed": 1, "kept_for": 1}
    assert doc["review"] == {
        "reviewable": 3,
        "accepted": 1,
        "rejected": 1,
        "skipped": 1,
        "undecided": 0,
    }


def test_stats_tables_and_unchecked_images(data_dir):
    with open_catalog(data_dir) as catalog:
        record_fetches(catalog, [photo("http://a.test/1.jpg", seed=1)])
    result = CliRunner().invoke(cli, ["stats"], env={"SYNTHSET_DATA": str(data_dir)})
    assert result.exit_code == 0, result.output
    for title in ("status", "per source", "per synset", "duplicates", "review progress"):
        assert title in result.output
    assert stats_json(data_dir)["statuses"]["unchecked"] == 1


def test_stats_without_a_catalog_is_an_error(tmp_path):
    result = CliRunner().invoke(cli, ["stats", "--data", str(tmp_path / "nowhere"), "--json"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: no catalog at ")


def unprivileged(command: list[str]) -> list[str]:
    """``command`` run without the power to ignore file permissions (root's, as in CI, too)."""
    if os.geteuid() != 0:
        return command
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *command]


def test_a_read_only_data_directory_is_one_error_line(data_dir, tmp_path):
    open_catalog(data_dir).close()
    curate = str(Path(sys.executable).parent / "curate")
    modes = {path: path.stat().st_mode for path in [data_dir, *data_dir.rglob("*")]}
    for path in modes:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        for args in (["stats", "--data", str(data_dir)],
                     ["decisions", "export", str(data_dir / "out.csv"), "--data", str(data_dir)]):
            done = subprocess.run(unprivileged([curate, *args]), capture_output=True, text=True,
                                  timeout=120)
            assert done.returncode == 1, done.stderr
            assert done.stderr.startswith("Error: "), done.stderr
            assert "cannot be written" in done.stderr or "permission denied" in done.stderr
            assert "Traceback" not in done.stderr
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
