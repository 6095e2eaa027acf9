"""``synthset``: Scrapy's own command line with synthset's settings, from any directory.

``scrapy crawl NAME`` finds a project through the nearest ``scrapy.cfg``, which exists
only in a checkout of the repository. ``synthset crawl NAME ...`` takes exactly the
same arguments and runs the same commands (our ``crawl`` included, see
crawler/commands/crawl.py), but names the settings module itself, for this process
only: another Scrapy project's ``scrapy.cfg`` and a user's ``SCRAPY_SETTINGS_MODULE``
elsewhere are left alone.
"""

from __future__ import annotations

import os
import sys

SETTINGS_MODULE = "crawler.settings"
SETTINGS_ENV_VAR = "SCRAPY_SETTINGS_MODULE"  # scrapy.utils.project.ENVVAR


def main(argv: list[str] | None = None) -> None:
    """Run ``scrapy COMMAND ...`` with synthset's settings (``synthset crawl commons -a ...``)."""
    os.environ[SETTINGS_ENV_VAR] = SETTINGS_MODULE  # before Scrapy reads it; this process only
    from scrapy.cmdline import execute

    execute(["synthset", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
