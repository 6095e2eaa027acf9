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



@pytest.mark.parametrize("walk", [[], ["--duplicates"]])
def test_review_without_a_terminal_is_an_error_line_not_a_hang(catalog, shas, data_dir, walk):
    """CliRunner's stdin and stdout are no terminal, as under a pipe or a cron job."""
    result = CliRunner().invoke(cli, ["review", "--data", str(data_dir), *walk],
                                catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: curate review needs an interactive terminal")
    assert in_force(catalog) == {}

# --duplicates: groups from the real `curate dedup`


def near_copy(jpeg: bytes) -> bytes:
    """The same picture at twice the size and another quality: a near duplicate."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(jpeg)) as image:
        bigger = image.resize((image.width * 2, image.height * 2), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    bigger.save(out, "JPEG", quality=70)
    return out.getvalue()


@pytest.fixture
def groups(catalog):
    """Three duplicate groups (a drawing and its bigger copy) plus one lone image, deduped."""
    from catalog.duplicates import duplicate_groups
    from catalog.harvest import FetchResult, record_fetches
    from curate.dedup import DedupOptions, dedup_images
    from curate.review.sample import draw_cake

    results = []
    for n in range(4):
        original = draw_cake(100 + n)
        results.append(FetchResult(f"http://h/{n}.jpg", "web", http_status=200, body=original))
        if n < 3:
            copy = near_copy(original)
            results.append(FetchResult(f"http://h/{n}b.jpg", "web", http_status=200, body=copy))
    record_fetches(catalog, results)
    check_images(catalog, CheckOptions(workers=1))
    dedup_images(catalog, DedupOptions())
    found = duplicate_groups(catalog)
    assert [len(g.members) for g in found] == [1, 1, 1]
    return found


def duplicate_of(catalog) -> dict[str, str | None]:
    """sha256 -> duplicate_of for every image."""
    return dict(catalog.conn.execute("SELECT sha256, duplicate_of FROM images").fetchall())


@pytest.fixture
def dup_app_class():
    """The duplicates app (imported here: it needs catalog.duplicates)."""
    from curate.review.duplicates import DuplicatesApp

    return DuplicatesApp


@pilot_test
async def test_duplicates_choose_keeper_break_and_skip(catalog, groups, dup_app_class):
    from curate.review.protocols import image_widget

    first, second, third = groups
    app = dup_app_class(catalog, image_widget("halfcell"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.group == first and app.query_one("#tile-1").has_class("keeper")
        await pilot.press("2")
        assert app.query_one("#tile-2").has_class("keeper")
        assert not app.query_one("#tile-1").has_class("keeper")
        assert duplicate_of(catalog)[first.members[0].sha256] == first.keeper.sha256  # not yet
        await pilot.press("enter")
        assert app.group == second
        await pilot.press("b", "enter", "right")
        assert app.group is None
        await pilot.press("enter")  # nothing left: no change
    marks = duplicate_of(catalog)
    new_keeper = first.members[0].sha256
    assert marks[new_keeper] is None and marks[first.keeper.sha256] == new_keeper
    assert marks[second.keeper.sha256] is None and marks[second.members[0].sha256] is None
    assert marks[third.members[0].sha256] == third.keeper.sha256
    log = catalog.conn.execute("SELECT action, count(*) FROM duplicate_log GROUP BY action")
    assert dict(log.fetchall()) == {"dedup": 3, "keeper": 2, "break": 1}


@pilot_test
async def test_the_screening_queue_leaves_duplicates_out(catalog, groups):
    app = make_app(catalog)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        assert app.counts.total == 4  # seven images, three of them duplicates
        keepers = {g.keeper.sha256 for g in groups}
        seen = []
        while app.current is not None:
            seen.append(app.current.sha256)
            await pilot.press("right")
        assert keepers < set(seen) and len(seen) == 4


# Half-block drawing: strips drawn ahead in the look-ahead thread, swapped in at the key


def grid_image(colours: list[list[tuple[int, int, int]]]):
    """An RGB image whose pixel (x, y) is ``colours[y][x]``."""
    from PIL import Image

    image = Image.new("RGB", (len(colours[0]), len(colours)))
    image.putdata([pixel for row in colours for pixel in row])
    return image


def cells_of(strip) -> list[tuple[str, object]]:
    """One (character, style) pair per cell of a strip."""
    return [(char, segment.style) for segment in strip for char in segment.text]


def test_halfcell_strips_centre_the_picture_upper_pixel_over_lower():
    from rich.style import Style

    from curate.review.halfcell import HalfcellSpec, halfcell_strips

    red, green, blue, white = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
    image = grid_image([[red, green], [blue, white], [green, green], [green, green]])
    margin = Style(bgcolor="#101010")
    strips = halfcell_strips(image, HalfcellSpec((6, 4), margin))
    assert len(strips) == 4 and {s.cell_length for s in strips} == {6}
    rows = [cells_of(s) for s in strips]
    assert rows[0] == [(" ", margin)] * 6 and rows[3] == [(" ", margin)] * 6  # rows 1-2: picture
    assert rows[1][:2] == [(" ", margin)] * 2 and rows[1][4:] == [(" ", margin)] * 2
    (char, first), (_, second) = rows[1][2:4]
    assert char == "▀"
    assert first.color.triplet == red and first.bgcolor.triplet == blue
    assert second.color.triplet == green and second.bgcolor.triplet == white
    assert [style for _, style in rows[2][2:4]] == [rows[2][2][1]] * 2  # green over green
    flat = [seg for seg in strips[2] if seg.text.strip()]
    assert len(flat) == 1 and flat[0].text == "▀▀"  # equal neighbours share one segment


def test_halfcell_strips_match_the_textual_image_renderable():
    import io

    from PIL import Image
    from rich.console import Console
    from rich.style import Style

    from curate.review.halfcell import FastHalfcellImage, HalfcellSpec, halfcell_strips
    from curate.review.sample import draw_cake

    with Image.open(io.BytesIO(draw_cake(7, (40, 30)))) as decoded:
        image = decoded.convert("RGB")
    strips = halfcell_strips(image, HalfcellSpec((40, 15), Style()))
    console = Console(width=40, height=15, force_terminal=True, color_system="truecolor")
    renderable = FastHalfcellImage(image, 40, 15)
    reference = [line for line in console.render_lines(renderable, pad=False)]
    assert [cells_of(s) for s in strips] == [cells_of(line) for line in reference]


def test_halfcell_strips_scale_a_big_picture_down_to_fit():
    from PIL import Image
    from rich.style import Style

    from curate.review.halfcell import HalfcellSpec, halfcell_strips

    wide = Image.new("RGB", (400, 100), (9, 9, 9))
    strips = halfcell_strips(wide, HalfcellSpec((20, 10), Style()))
    drawn = [s for s in strips if any("▀" in seg.text for seg in s)]
    assert len(strips) == 10 and len(drawn) == 2  # 20 x 5 pixels, the odd last row dropped
    assert all(sum(len(seg.text) for seg in s if "▀" in seg.text) == 20 for s in drawn)


@pilot_test
async def test_a_key_swaps_in_the_drawing_made_ahead(catalog, shas):
    app = make_app(catalog)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        view = app.query_one("#image")
        spec = view.spec()
        ahead = app.prefetcher.get(shas[1], app._path(app.queue.around(1)[0]), spec)
        drawing = await asyncio.wrap_future(ahead)  # drawn by the look-ahead thread
        await pilot.press("a")
        assert view.image_key == shas[1] and view.drawing is drawing  # not drawn again
        await pilot.pause()
        assert view.painted_key == shas[1]
        assert len(drawing.strips) == view.size.height
        assert {s.cell_length for s in drawing.strips} == {view.size.width}


@pilot_test
async def test_the_image_is_drawn_again_for_a_new_size(catalog, shas):
    app = make_app(catalog)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        view = app.query_one("#image")
        before = view.size
        await pilot.resize_terminal(SIZE[0] - 20, SIZE[1] - 8)
        await settle(pilot, app)
        assert view.size != before and view.painted_key == shas[0]
        assert view.drawing.spec.cells == tuple(view.size)
        assert len(view.drawing.strips) == view.size.height


class Gate:
    """A half-block drawer for the look-ahead that draws only once the test opens the gate."""

    def __init__(self) -> None:
        import threading

        self.open = threading.Event()

    def __call__(self, path, spec):
        """Wait for the gate (at most 10 s), then draw."""
        from curate.review.halfcell import draw_halfcell

        self.open.wait(10)
        return draw_halfcell(path, spec)


@pilot_test
async def test_an_image_not_drawn_yet_shows_loading_until_it_is(catalog, shas):
    from curate.review.prefetch import Prefetcher

    gate = Gate()
    app = make_app(catalog)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        app.prefetcher.close()
        app.prefetcher = Prefetcher(prepare=gate)
        await pilot.press("s")
        message, view = app.query_one("#image-message"), app.query_one("#image")
        assert str(message.render()) == "loading..." and not view.display
        assert in_force(catalog) == {shas[0]: ("skip", None)}  # the decision did not wait
        gate.open.set()
        await settle(pilot, app)
        assert view.display and not message.display and view.painted_key == shas[1]


class MessageLog(ReviewApp):
    """The review app, keeping every message it put in the image area."""

    def _put_message(self, text: str) -> None:
        self.messages = [*getattr(self, "messages", []), text]
        super()._put_message(text)


@pilot_test
async def test_start_up_says_loading_never_done(catalog, shas):
    from curate.review.prefetch import Prefetcher

    gate = Gate()
    app = MessageLog(catalog, ReviewOptions(protocol="halfcell"))
    app.prefetcher = Prefetcher(prepare=gate)
    async with app.run_test(size=SIZE) as pilot:
        while app.current is None:
            await pilot.pause(0.01)
        assert str(app.query_one("#image-message").render()) == "loading..."
        gate.open.set()
        await settle(pilot, app)
        assert app.query_one("#image").painted_key == shas[0]
    assert DONE_MESSAGE not in app.messages  # no "Nothing left to screen" flash at start
    assert app.messages[0] == "loading..." and app.messages[-1] == ""
