"""Planters: each lays out one kind of planted URL (failures, duplicates, odd encodings)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PIL import Image, ImageEnhance

from crawler.mirror import encoding
from crawler.mirror.drawing import draw_placeholder
from crawler.mirror.plan import Planner, Planted, Resource, cake_encoder, picture, planted

TIMEOUT_HOLD_S = 60.0  # the timeout route answers only after this long
OVERSIZED_SIDE = 2048  # a 2048x2048 BMP is 12 MiB (+54 header bytes)
PLACEHOLDER_SIZE = (500, 374)  # like the classic "photo unavailable" picture


def plant_ok(p: Planner, tag: str, ext: str = "jpg") -> Planted:
    """An ordinary drawn cake."""
    spec = p.new_spec()
    url = p.add_cake(f"/img/cake/{tag}.{ext}", spec, cake_encoder(ext))
    return planted(url, "ok", decision=spec.decision)


def _failure(
    p: Planner, path: str, kind: str, status: int, body: bytes, variant: str
) -> list[Planted]:
    url = p.add_bytes(path, lambda: body, status=status)
    return [planted(url, kind, variant=variant)]


def plant_not_found(p: Planner, tag: str) -> list[Planted]:
    """A 404 with an HTML body."""
    return _failure(
        p, f"/fail/404/{tag}.jpg", "not_found", 404, encoding.html_page("404 Not Found"), "404"
    )


def plant_server_error(p: Planner, tag: str) -> list[Planted]:
    """A 500, every time."""
    body = encoding.html_page("500 Internal Server Error")
    return _failure(p, f"/fail/500/{tag}.jpg", "server_error", 500, body, "500")


def plant_refused(p: Planner, tag: str) -> list[Planted]:
    """A URL on a closed 127.0.0.1 port: the connection is refused."""
    return [planted(f"{p.refused_base}img/{tag}.jpg", "refused", variant="closed port")]


def plant_timeout(p: Planner, tag: str) -> list[Planted]:
    """A host that holds the answer for a minute."""
    spec = p.new_spec()
    url = p.add(
        f"/fail/timeout/{tag}.jpg",
        Resource(render=lambda: encoding.jpeg(picture(spec)), hold_s=TIMEOUT_HOLD_S),
    )
    return [planted(url, "timeout", variant=f"held {TIMEOUT_HOLD_S:.0f} s")]


def plant_empty(p: Planner, tag: str) -> list[Planted]:
    """A 200 with a zero-byte body and an image content type."""
    url = p.add_bytes(f"/fail/empty/{tag}.jpg", lambda: b"")
    return [planted(url, "empty", variant="0 bytes")]


def plant_html_as_jpg(p: Planner, tag: str) -> list[Planted]:
    """An HTML page served as .jpg with Content-Type image/jpeg."""
    body = encoding.html_page("Image not found")
    url = p.add_bytes(f"/fail/html/{tag}.jpg", lambda: body, content_type="image/jpeg")
    return [planted(url, "html_as_jpg", variant="text/html body, image/jpeg type")]


def plant_truncated(p: Planner, tag: str) -> list[Planted]:
    """A JPEG cut after 55% of its bytes (the HTTP transfer itself is complete)."""
    spec = p.new_spec(width=480, height=360)
    url = p.add_bytes(
        f"/fail/truncated/{tag}.jpg", lambda: encoding.truncated(encoding.jpeg(picture(spec)))
    )
    return [planted(url, "truncated", variant="first 55% of a JPEG")]


def plant_bomb(p: Planner, tag: str) -> list[Planted]:
    """A small PNG whose header claims 30000x30000 pixels."""
    url = p.add_bytes(f"/fail/bomb/{tag}.png", encoding.decompression_bomb)
    return [planted(url, "bomb", variant="PNG header claims 30000x30000")]


def plant_oversized(p: Planner, tag: str) -> list[Planted]:
    """A 12 MiB uncompressed BMP (larger than any sane DOWNLOAD_MAXSIZE in tests)."""
    spec = p.new_spec(width=OVERSIZED_SIDE, height=OVERSIZED_SIDE)
    url = p.add_bytes(f"/fail/big/{tag}.bmp", lambda: encoding.bmp(picture(spec)))
    return [planted(url, "oversized", variant="12 MiB BMP")]


def plant_too_small(p: Planner, tag: str) -> list[Planted]:
    """A 24x18 cake, below any useful size."""
    spec = p.new_spec(width=24, height=18)
    url = p.add_cake(f"/img/small/{tag}.jpg", spec, cake_encoder("jpg"))
    return [planted(url, "too_small", variant="24x18")]


def plant_bad_schemes(p: Planner, tag: str) -> list[Planted]:
    """URLs no crawler should fetch: ftp, file and data."""
    urls = (
        f"ftp://127.0.0.1/pub/cakes/{tag}.jpg",
        "file:///etc/passwd",
        "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7",
    )
    return [planted(url, "bad_scheme", variant=url.split(":", 1)[0]) for url in urls]


def plant_redirect(p: Planner, tag: str) -> list[Planted]:
    """A chain 302 -> 301 -> a cake seen nowhere else."""
    spec = p.new_spec()
    final = p.add_cake(f"/img/moved/{tag}.jpg", spec, cake_encoder("jpg"))
    second = p.add(
        f"/redirect/b/{tag}.jpg", Resource(render=bytes, status=301, location=final, image=False)
    )
    first = p.add(
        f"/redirect/a/{tag}.jpg", Resource(render=bytes, status=302, location=second, image=False)
    )
    return [
        planted(
            first,
            "redirect",
            final_url=final,
            decision=spec.decision,
            variant="302 -> 301 -> image",
        )
    ]


def plant_duplicates(p: Planner, tag: str) -> list[Planted]:
    """An original and its exact copy, and a PNG original with the same pixels re-encoded."""
    original = plant_ok(p, f"{tag}-orig")
    copy = p.add_bytes(f"/img/copy/{tag}.jpg", lambda: p.body(_path(p, original.url)))
    spec = p.new_spec()
    png_original = p.add_cake(f"/img/cake/{tag}-lossless.png", spec, lambda im: encoding.png(im, 1))
    same_pixels = p.add_cake(f"/img/copy/{tag}-level9.png", spec, lambda im: encoding.png(im, 9))
    return [
        original,
        planted(copy, "exact_duplicate", duplicate_of=original.url, variant="same bytes"),
        planted(png_original, "ok", decision=spec.decision, variant="PNG, zlib level 1"),
        planted(
            same_pixels,
            "same_pixels",
            duplicate_of=png_original,
            variant="same pixels, zlib level 9",
        ),
    ]


def _scaled(image: Image.Image, factor: float) -> Image.Image:
    return image.resize(
        (round(image.width * factor), round(image.height * factor)), Image.Resampling.LANCZOS
    )


def _cropped(image: Image.Image) -> Image.Image:
    dx, dy = round(image.width * 0.02), round(image.height * 0.02)
    return image.crop((dx, dy, image.width - dx, image.height - dy))


# name -> (change, JPEG quality); every variant is smaller than its original in pixels and bytes
NEAR_VARIANTS: dict[str, tuple[Callable[[Image.Image], Image.Image], int]] = {
    "resized": (lambda im: _scaled(im, 0.75), 85),
    "quality30": (lambda im: _scaled(im, 0.98), 30),
    "crop4": (_cropped, 85),
    "bright10": (lambda im: ImageEnhance.Brightness(_scaled(im, 0.98)).enhance(1.1), 85),
}


def plant_near_duplicates(p: Planner, tag: str) -> list[Planted]:
    """An original (JPEG quality 95) and its resized, low-quality, cropped and brightened copies."""
    spec = p.new_spec()
    while min(spec.width, spec.height) < 160:
        spec = p.new_spec()
    original = p.add_cake(f"/img/cake/{tag}-near.jpg", spec, cake_encoder("jpg", quality=95))
    rows = [planted(original, "ok", decision=spec.decision, variant="original of near duplicates")]
    for name, (change, quality) in NEAR_VARIANTS.items():
        url = p.add_cake(f"/img/near/{tag}-{name}.jpg", spec, _variant_encoder(change, quality))
        rows.append(planted(url, "near_duplicate", duplicate_of=original, variant=name))
    return rows


def _variant_encoder(
    change: Callable[[Image.Image], Image.Image], quality: int
) -> Callable[[Image.Image], bytes]:
    return lambda image: encoding.jpeg(change(image), quality=quality)


def placeholder_bytes() -> bytes:
    """The most common placeholder: 500x374 PNG, served byte-identical under several URLs."""
    return encoding.png(draw_placeholder(*PLACEHOLDER_SIZE))


# how the n-th placeholder URL is served: (path pattern, render)
PLACEHOLDER_VARIANTS: tuple[tuple[str, Callable[[], bytes]], ...] = (
    ("/placeholder/{tag}/photo_unavailable.png", placeholder_bytes),
    ("/placeholder/{tag}/unavailable.jpg", lambda: encoding.jpeg(draw_placeholder(240, 180), 80)),
    ("/placeholder/{tag}/photo_unavailable.png", placeholder_bytes),
    ("/placeholder/{tag}/notfound.gif", lambda: encoding.gif(draw_placeholder(320, 240))),
    ("/placeholder/{tag}/removed.jpg", lambda: encoding.jpeg(draw_placeholder(1024, 768), 90)),
)


def plant_placeholders(p: Planner, tag: str, count: int = 6) -> list[Planted]:
    """``count`` URLs answering "photo unavailable": same bytes, other sizes, one via a redirect."""
    rows = []
    for n in range(count):
        pattern, render = PLACEHOLDER_VARIANTS[n % len(PLACEHOLDER_VARIANTS)]
        url = p.add_bytes(pattern.format(tag=f"{tag}-{n}"), render)
        rows.append(planted(url, "placeholder", variant=pattern.rsplit("/", 1)[-1]))
    target = p.add_bytes("/static/photo_unavailable.png", placeholder_bytes)
    hop = p.add(
        f"/placeholder/{tag}-moved.jpg",
        Resource(render=bytes, status=302, location=target, image=False),
    )
    rows.append(planted(hop, "placeholder", final_url=target, variant="302 to the placeholder"))
    return rows


# name -> encoder: ok cakes in encodings a checker must handle
SPECIAL_ENCODINGS: dict[str, tuple[str, Callable[[Image.Image], bytes]]] = {
    "exif_orientation_6": ("jpg", encoding.exif_rotated_jpeg),
    "cmyk": ("jpg", encoding.cmyk_jpeg),
    "png_16bit": ("png", encoding.png16),
    "palette": ("png", encoding.palette_png),
    "rgba": ("png", encoding.rgba_png),
    "animated_gif": ("gif", encoding.animated_gif),
}


def plant_special_encodings(p: Planner, tag: str) -> list[Planted]:
    """One ok cake in each special encoding (EXIF rotation, CMYK, 16-bit, palette, alpha, GIF)."""
    rows = []
    for name, (ext, encode) in SPECIAL_ENCODINGS.items():
        spec = p.new_spec()
        if name == "animated_gif":
            spec = replace(spec, width=min(spec.width, 320), height=min(spec.height, 320))
        url = p.add_cake(f"/img/special/{tag}-{name}.{ext}", spec, encode)
        rows.append(planted(url, "ok", decision=spec.decision, variant=name))
    return rows


def _path(p: Planner, url: str) -> str:
    return "/" + url[len(p.base_url) :]


# the failure planters, one entry per kind; each returns the rows it planted
PLANTERS: dict[str, Callable[[Planner, str], list[Planted]]] = {
    "not_found": plant_not_found,
    "server_error": plant_server_error,
    "refused": plant_refused,
    "timeout": plant_timeout,
    "empty": plant_empty,
    "html_as_jpg": plant_html_as_jpg,
    "truncated": plant_truncated,
    "bomb": plant_bomb,
    "oversized": plant_oversized,
    "too_small": plant_too_small,
    "bad_scheme": plant_bad_schemes,
    "redirect": plant_redirect,
    "duplicates": plant_duplicates,
    "near_duplicates": plant_near_duplicates,
    "placeholders": plant_placeholders,
    "special_encodings": plant_special_encodings,
}
