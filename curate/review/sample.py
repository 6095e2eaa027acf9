"""A small catalog of drawn images, harvested and checked for real (tests, screenshot, demos)."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw

from catalog.db import Catalog
from catalog.harvest import FetchResult, record_fetches
from catalog.synsets import Synset, record_synsets

SAMPLE_SYNSETS = (
    Synset("n07631926", "ice-cream cake, icebox cake", "a frozen dessert"),
    Synset("n07628870", "cake", "baked goods made from or based on a mixture of flour"),
)


def draw_cake(seed: int, size: tuple[int, int] = (160, 120)) -> bytes:
    """A JPEG of a simple cake-like drawing, different for every ``seed``."""
    rng = random.Random(seed)
    width, height = size
    background = tuple(rng.randrange(150, 256) for _ in range(3))
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    tiers = 1 + seed % 3
    for tier in range(tiers):
        colour = tuple(rng.randrange(0, 200) for _ in range(3))
        inset = tier * width // 10 + rng.randrange(0, width // 12)
        top = height - (tier + 1) * height // (tiers + 2)
        draw.rectangle((inset + 10, top, width - inset - 10, top + height // (tiers + 2)), colour)
        draw.ellipse((inset + 10, top - 8, width - inset - 10, top + 8), colour)
    for _ in range(6):  # texture so no two drawings hash alike
        x, y = rng.randrange(width), rng.randrange(height)
        draw.ellipse((x, y, x + 9, y + 9), tuple(rng.randrange(256) for _ in range(3)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def fill_sample_catalog(
    catalog: Catalog, count: int = 12, base_url: str = "http://cakes.test/"
) -> list[str]:
    """Harvest ``count`` drawn images into ``catalog`` (two synsets, imagenet and web sources).

    Images are left unchecked: run ``curate check`` (curate.check.check_images) to judge
    them. Returns the image URLs in order.
    """
    record_synsets(catalog, SAMPLE_SYNSETS)
    results, urls = [], []
    for n in range(count):
        imagenet = n % 2 == 0
        url = f"{base_url}{'imagenet' if imagenet else 'web'}/{n:04d}.jpg"
        urls.append(url)
        results.append(
            FetchResult(
                url=url,
                source="imagenet" if imagenet else "web",
                wnid=SAMPLE_SYNSETS[n % 4 // 2].wnid,
                image_id=f"{SAMPLE_SYNSETS[n % 4 // 2].wnid}_{n}" if imagenet else None,
                found_on=None if imagenet else f"{base_url}pages/{n // 3}.html",
                http_status=200,
                content_type="image/jpeg",
                body=draw_cake(n, (160 + 8 * (n % 5), 120 + 6 * (n % 4))),
            )
        )
    record_fetches(catalog, results)
    return urls
