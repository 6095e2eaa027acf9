"""curate review: Pilot-driven sessions, asserted on the rows in ``reviews`` (issue 4)."""

from __future__ import annotations

import asyncio
import functools
import time

import pytest
from click.testing import CliRunner

from catalog.review_queue import QueueFilter
from catalog.runs import set_setting
from curate.check import CheckOptions, check_images
from curate.cli import cli
from curate.review.app import CRITERION_SETTING, DONE_MESSAGE, ReviewApp, ReviewOptions
from curate.review.sample import SAMPLE_SYNSETS, fill_sample_catalog
from curate.review.widgets import HelpScreen, NoteScreen

SIZE = (110, 32)


def pilot_test(scenario):
    """Run an async Pilot scenario as a plain test (no async plugin needed)."""

    @functools.wraps(scenario)
    def run(*args, **kwargs):
        asyncio.run(scenario(*args, **kwargs))

    return run


@pytest.fixture
def shas(catalog) -> list[str]:
    """Eight drawn images, harvested and judged by the real ``curate check``; queue order."""
    fill_sample_catalog(catalog, 8)
    report = check_images(catalog, CheckOptions(workers=1))
    assert report.statuses["ok"] == 8
    return [r[0] for r in catalog.conn.execute("SELECT sha256 FROM images ORDER BY sha256")]


def in_force(catalog) -> dict[str, tuple[str, str | None]]:
    """sha256 -> (decision, note) from the decisions view."""
    rows = catalog.conn.execute("SELECT sha256, decision, note FROM decisions")
    return {r[0]: (r[1], r[2]) for r in rows}


def review_rows(catalog) -> list[tuple]:
    """Every reviews row: (sha256, decision, note, undoes)."""
    rows = catalog.conn.execute("SELECT sha256, decision, note, undoes FROM reviews ORDER BY id")
    return [tuple(r) for r in rows]


def make_app(catalog, **filter_args) -> ReviewApp:
    """A review app drawing with half blocks (the headless terminal has no graphics)."""
    return ReviewApp(catalog, ReviewOptions(QueueFilter(**filter_args), protocol="halfcell"))


async def settle(pilot, app: ReviewApp) -> None:
    """Wait until the start-up work is done: first image shown and counts in."""
    deadline = time.monotonic() + 10
    while app.current is not None and app.query_one("#image").painted_key != app.current.sha256:
        assert time.monotonic() < deadline, "the first image never reached the screen"
        await pilot.pause(0.01)
    await app.workers.wait_for_complete()
    await pilot.pause()


@pilot_test
async def test_accept_reject_skip_are_rows_at_the_keypress(catalog, shas):
    app = make_app(catalog)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert app.current.sha256 == shas[0]
        await pilot.press("a")
        assert in_force(catalog) == {shas[0]: ("accept", None)}  # committed before the next key
        await pilot.press("r", "s", "enter", "x", "space")
        assert app.current.sha256 == shas[6]
        await settle(pilot, app)
        assert (app.counts.decided, app.counts.accepted, app.counts.rejected) == (6, 2, 2)
    assert in_force(catalog) == {
        shas[0]: ("accept", None), shas[1]: ("reject", None), shas[2]: ("skip", None),
        shas[3]: ("accept", None), shas[4]: ("reject", None), shas[5]: ("skip", None),
    }


@pilot_test
async def test_undo_twice_withdraws_both_and_goes_back(catalog, shas):
    app = make_app(catalog)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("a", "r", "u")
        assert app.current.sha256 == shas[1]
        await pilot.press("ctrl+z")
        assert app.current.sha256 == shas[0]
        await pilot.press("u")  # nothing left to undo in this session: no row
        await settle(pilot, app)
        assert app.counts.decided == 0
    assert in_force(catalog) == {}
    rows = review_rows(catalog)
    assert [r[:2] for r in rows] == [
        (shas[0], "accept"), (shas[1], "reject"), (shas[1], "undo"), (shas[0], "undo"),
    ]
    assert [r[3] for r in rows] == [None, None, 2, 1]


@pilot_test
async def test_undo_returns_to_an_image_left_behind(catalog, shas):
    app = make_app(catalog)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("r", "right", "right", "left")
        assert app.current.sha256 == shas[2]
        await pilot.press("u")
        assert app.current.sha256 == shas[0]
    assert in_force(catalog) == {}


@pilot_test
async def test_note_before_a_decision_is_saved_with_it(catalog, shas):
    app = make_app(catalog)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("n")
        assert isinstance(app.screen, NoteScreen)
        await pilot.press(*"two tiers", "enter")
        assert review_rows(catalog) == []  # nothing to attach it to yet
        await pilot.press("r")
    assert in_force(catalog) == {shas[0]: ("reject", "two tiers")}


@pilot_test
async def test_note_after_a_decision_repeats_it_and_undoes_alone(catalog, shas):
    app = make_app(catalog)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("a", "left", "n", *"blurry", "enter")
        assert in_force(catalog) == {shas[0]: ("accept", "blurry")}
        await pilot.press("u")
        assert in_force(catalog) == {shas[0]: ("accept", None)}
        await pilot.press("n", "escape")  # cancelled: no row
    assert len(review_rows(catalog)) == 3


@pilot_test
async def test_restart_resumes_at_the_first_undecided(catalog, shas):
    app = make_app(catalog)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("a", "r", "s", "q")
    assert not app.is_running
    again = make_app(catalog)
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot, again)
        assert again.current.sha256 == shas[3]
        assert again.counts.decided == 3
        await pilot.press("left")  # the session starts at the first undecided image
        assert again.current.sha256 == shas[3]


@pilot_test
async def test_redo_starts_over_the_decided(catalog, shas):
    app = make_app(catalog)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("a", "a")
    redo = make_app(catalog, redo=True)
    async with redo.run_test(size=SIZE) as pilot:
        await settle(pilot, redo)
        assert redo.current.sha256 == shas[0]
        await pilot.press("r")
    assert in_force(catalog)[shas[0]] == ("reject", None)
    assert in_force(catalog)[shas[1]] == ("accept", None)


@pytest.mark.parametrize(
    "filter_args, expected",
    [
        ({"source": "web"}, {1, 3, 5, 7}),
        ({"synset": SAMPLE_SYNSETS[1].wnid}, {2, 3, 6, 7}),  # images with n % 4 in (2, 3)
        ({"synset": SAMPLE_SYNSETS[1].wnid, "source": "web"}, {3, 7}),
    ],
)
@pilot_test
async def test_filters_walk_only_their_images(catalog, shas, filter_args, expected):
    by_url = {
        r[0]: r[1] for r in catalog.conn.execute("SELECT sha256, url FROM urls ORDER BY url")
    }
    wanted = {sha for sha, url in by_url.items() if int(url[-8:-4]) in expected}
    app = make_app(catalog, **filter_args)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert app.counts.total == len(wanted)
        await pilot.press(*["a"] * (len(wanted) + 2))  # two presses past the end do nothing
        assert app.current is None
        assert str(app.query_one("#image-message").render()) == DONE_MESSAGE
    assert set(in_force(catalog)) == wanted


@pilot_test
async def test_help_opens_and_swallows_the_next_key(catalog, shas):
    app = make_app(catalog)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("a")
        assert not isinstance(app.screen, HelpScreen)
        assert app.current.sha256 == shas[0]
    assert review_rows(catalog) == []


@pilot_test
async def test_criterion_and_facts_are_shown(catalog, shas):
    set_setting(catalog, CRITERION_SETTING, "round, single-tiered cakes")
    app = make_app(catalog)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert "round, single-tiered cakes" in str(app.query_one("#criterion").render())
        facts = app.query_one("#facts")
        text = "".join(s.text for s in app.console.render(facts.table))
        assert "http://cakes.test/" in text and shas[0][:16] in text and "undecided" in text


@pilot_test
async def test_a_missing_file_is_reported_and_can_still_be_judged(catalog, shas):
    (catalog.data_dir / catalog.conn.execute(
        "SELECT path FROM images WHERE sha256 = ?", (shas[0],)).fetchone()[0]).unlink()
    app = make_app(catalog)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        deadline = time.monotonic() + 10
        while "cannot decode" not in str(app.query_one("#image-message").render()):
            assert time.monotonic() < deadline
            await pilot.pause(0.01)
        await pilot.press("x")
    assert in_force(catalog) == {shas[0]: ("reject", None)}


def test_review_without_a_catalog_is_an_error_line(tmp_path):
    result = CliRunner().invoke(cli, ["review", "--data", str(tmp_path / "none")])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: no catalog at")
