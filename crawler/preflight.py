"""Checks made before a crawl starts: the spider exists, its ``-a`` arguments are sound and
the settings it needs are set."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings, default_settings
from scrapy.spiderloader import get_spider_loader

from crawler import settings as project_settings
from crawler.errors import SpiderArgumentError, UnknownSpider

# How each kind of default reads a -s value, and what to ask for when it cannot.
# Whole-number defaults are read as numbers: Scrapy reads some of them (DOWNLOAD_TIMEOUT) with
# getfloat, and 0.5 must not be refused there.
READERS = {bool: ("getbool", "1 or 0 (True or False)"), int: ("getfloat", "a number"),
           float: ("getfloat", "a number")}


def check_crawl(settings: BaseSettings, spider: str, spider_args: Mapping[str, Any]) -> type:
    """Load spider ``spider``, parse ``spider_args`` the way the spider will; return its class.

    Spiders without a ``parse_args`` classmethod are only checked to exist; a spider's
    ``check_settings`` classmethod, if it has one, is given the settings.

    :raises UnknownSpider: if the project has no spider of that name.
    :raises SpiderArgumentError: (from the spider's ``parse_args``) for a bad argument.
    :raises SynthsetError: (from the spider's ``check_settings``) for a missing setting.
    :raises SpiderArgumentError: for a ``-s`` value its setting cannot read (``-s DEPTH=abc``).
    """
    check_setting_values(settings)
    loader = get_spider_loader(settings)
    try:
        spidercls = loader.load(spider)
    except KeyError:
        names = ", ".join(sorted(loader.list())) or "none"
        raise UnknownSpider(
            f"no spider named {spider!r}; this project has: {names} (see `scrapy list`)"
        ) from None
    parse_args = getattr(spidercls, "parse_args", None)
    if parse_args is not None:
        parse_args(**spider_args)
    check_settings = getattr(spidercls, "check_settings", None)
    if check_settings is not None:
        check_settings(settings)
    return spidercls


def check_setting_values(settings: BaseSettings) -> None:
    """Read every ``-s`` setting whose default is a bool or a number the way Scrapy will.

    :raises SpiderArgumentError: naming the first that cannot be read.
    """
    for name in settings:
        if settings.getpriority(name) != SETTINGS_PRIORITIES["cmdline"]:
            continue
        default = getattr(project_settings, name, getattr(default_settings, name, None))
        if type(default) not in READERS:
            continue
        reader, wanted = READERS[type(default)]
        try:
            getattr(settings, reader)(name)
        except ValueError:
            raise SpiderArgumentError(f"-s {name}={settings[name]}: give {wanted}") from None
