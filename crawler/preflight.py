"""Checks made before a crawl starts: the spider exists, its ``-a`` arguments are sound and
the settings it needs are set."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scrapy.settings import BaseSettings
from scrapy.spiderloader import get_spider_loader

from crawler.errors import UnknownSpider


def check_crawl(settings: BaseSettings, spider: str, spider_args: Mapping[str, Any]) -> type:
    """Load spider ``spider``, parse ``spider_args`` the way the spider will; return its class.

    Spiders without a ``parse_args`` classmethod are only checked to exist; a spider's
    ``check_settings`` classmethod, if it has one, is given the settings.

    :raises UnknownSpider: if the project has no spider of that name.
    :raises SpiderArgumentError: (from the spider's ``parse_args``) for a bad argument.
    :raises SynthsetError: (from the spider's ``check_settings``) for a missing setting.
    """
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
