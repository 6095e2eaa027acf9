"""Save docs/review.svg: the app over a small generated catalog (run with python -m)."""

import asyncio
import tempfile

from catalog import open_catalog
from catalog.runs import set_setting
from curate.check import CheckOptions, check_images
from curate.review.app import CRITERION_SETTING, ReviewApp, ReviewOptions
from curate.review.protocols import image_widget
from curate.review.sample import fill_sample_catalog


async def main() -> None:
    """Draw twelve images, decide three, save the screen."""
    c = open_catalog(tempfile.mkdtemp())
    fill_sample_catalog(c, 12)
    check_images(c, CheckOptions(workers=1))
    set_setting(c, CRITERION_SETTING, "round, single-tiered cakes")
    app = ReviewApp(c, ReviewOptions(protocol="halfcell"), image_widget("halfcell"))
    async with app.run_test(size=(120, 34)) as pilot:
        while app.current is None or app.query_one("#image").painted_key != app.current.sha256:
            await pilot.pause(0.01)
        await pilot.press("a", "x", "a")
        while app.current is None or app.query_one("#image").painted_key != app.current.sha256:
            await pilot.pause(0.01)
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.save_screenshot("review.svg", path="docs")
if __name__ == "__main__":
    asyncio.run(main())
