"""Procedural, deterministic pictures: drawn cakes and the "photo unavailable" placeholder."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# width:height ratios: landscape, portrait and square pictures
ASPECTS = ((4, 3), (3, 2), (16, 9), (1, 1), (3, 4), (2, 3))
BACKGROUNDS = ("flat", "gradient", "noise", "table")
DECORATIONS = ("sprinkles", "candles", "cherries", "plain")
SPONGE = ((247, 222, 170), (120, 72, 40), (250, 240, 220), (230, 180, 190), (200, 150, 90))
ICING = ((255, 255, 255), (250, 200, 215), (90, 50, 25), (255, 235, 150), (190, 225, 200))
BACKDROP = ((70, 110, 160), (200, 190, 170), (40, 40, 50), (150, 190, 160), (220, 160, 120))


@dataclass(frozen=True)
class CakeSpec:
    """Everything that decides how one cake picture looks; the same spec draws the same pixels."""

    seed: int
    width: int
    height: int
    shape: str  # "round" | "square"
    tiers: int  # 1..3
    background: str
    decoration: str
    sponge: tuple[int, int, int]
    icing: tuple[int, int, int]
    backdrop: tuple[int, int, int]

    @property
    def decision(self) -> str:
        """Screening ground truth: accept round, single-tier cakes, reject the rest."""
        return "accept" if self.shape == "round" and self.tiers == 1 else "reject"


def random_cake_spec(seed: int, min_side: int = 80, max_side: int = 640) -> CakeSpec:
    """A varied cake (shape, tiers, size, aspect, colours) chosen from ``seed`` alone."""
    rng = np.random.default_rng(seed)
    aw, ah = ASPECTS[int(rng.integers(len(ASPECTS)))]
    long_side = int(rng.integers(max(min_side, 96), max_side + 1))
    scale = long_side / max(aw, ah)
    width, height = max(min_side, round(aw * scale)), max(min_side, round(ah * scale))
    return CakeSpec(
        seed=seed,
        width=width,
        height=height,
        shape="round" if rng.random() < 0.7 else "square",
        tiers=1 if rng.random() < 0.7 else int(rng.integers(2, 4)),
        background=BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))],
        decoration=DECORATIONS[int(rng.integers(len(DECORATIONS)))],
        sponge=SPONGE[int(rng.integers(len(SPONGE)))],
        icing=ICING[int(rng.integers(len(ICING)))],
        backdrop=BACKDROP[int(rng.integers(len(BACKDROP)))],
    )


def _shade(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    r, g, b = (max(0, min(255, round(c * factor))) for c in colour)
    return (r, g, b)


def _background(spec: CakeSpec, rng: np.random.Generator) -> Image.Image:
    w, h = spec.width, spec.height
    base = np.array(spec.backdrop, dtype=np.float32)
    if spec.background == "gradient":
        ramp = np.linspace(0.7, 1.25, h, dtype=np.float32)[:, None, None]
        pixels = np.broadcast_to(base * ramp, (h, w, 3))
    elif spec.background == "noise":
        small = rng.normal(0, 28, size=(max(2, h // 12), max(2, w // 12), 3)).astype(np.float32)
        grain = np.asarray(
            Image.fromarray(np.uint8(128 + np.clip(small, -127, 127))).resize((w, h))
        )
        pixels = base + (grain.astype(np.float32) - 128)
    elif spec.background == "table":
        pixels = np.broadcast_to(base, (h, w, 3)).copy()
        pixels[int(h * 0.62) :] = _shade(spec.backdrop, 0.6)
    else:
        pixels = np.broadcast_to(base, (h, w, 3))
    return Image.fromarray(np.uint8(np.clip(pixels, 0, 255)), "RGB")


def _tier_boxes(spec: CakeSpec) -> list[tuple[float, float, float, float]]:
    """(x0, y0, x1, y1) of each tier's front face, bottom tier first."""
    w, h = spec.width, spec.height
    base_width = min(w * 0.7, h * 0.95)
    bottom = h * 0.8
    total_height = min(h * 0.6, base_width * (0.55 + 0.2 * (spec.tiers - 1)))
    tier_height = total_height / spec.tiers
    boxes = []
    for level in range(spec.tiers):
        tier_width = base_width * (1 - 0.25 * level)
        x0 = (w - tier_width) / 2
        y1 = bottom - level * tier_height
        boxes.append((x0, y1 - tier_height, x0 + tier_width, y1))
    return boxes


def _draw_tier(draw: ImageDraw.ImageDraw, spec: CakeSpec, box: tuple[float, ...]) -> None:
    x0, y0, x1, y1 = box
    depth = (x1 - x0) * 0.18  # the visible top, seen from slightly above
    side, top = spec.sponge, spec.icing
    if spec.shape == "round":
        draw.ellipse((x0, y1 - depth / 2, x1, y1 + depth / 2), fill=_shade(side, 0.75))
        draw.rectangle((x0, y0, x1, y1), fill=side)
        draw.rectangle((x0, y0, x1, y0 + (y1 - y0) * 0.22), fill=top)
        draw.ellipse((x0, y0 - depth / 2, x1, y0 + depth / 2), fill=_shade(top, 1.05))
    else:
        skew = depth * 0.8
        draw.rectangle((x0, y0, x1, y1), fill=side)
        draw.rectangle((x1, y0, x1 + skew * 0.5, y1), fill=_shade(side, 0.7))
        draw.rectangle((x0, y0, x1, y0 + (y1 - y0) * 0.22), fill=top)
        draw.polygon(
            [
                (x0, y0),
                (x1, y0),
                (x1 + skew * 0.5, y0 - depth * 0.6),
                (x0 + skew * 0.5, y0 - depth * 0.6),
            ],
            fill=_shade(top, 1.05),
        )


def _decorate(
    draw: ImageDraw.ImageDraw, spec: CakeSpec, box: tuple[float, ...], rng: np.random.Generator
) -> None:
    x0, y0, x1, _ = box
    width = x1 - x0
    dot = max(1.0, width / 60)
    if spec.decoration == "sprinkles":
        for _ in range(int(rng.integers(15, 40))):
            cx, cy = x0 + rng.random() * width, y0 + (rng.random() - 0.5) * width * 0.12
            colour = tuple(int(c) for c in rng.integers(40, 255, size=3))
            draw.ellipse((cx - dot, cy - dot, cx + dot, cy + dot), fill=colour)
    elif spec.decoration == "candles":
        count = int(rng.integers(1, 6))
        for i in range(count):
            cx = x0 + width * (i + 1) / (count + 1)
            draw.rectangle((cx - dot, y0 - width * 0.2, cx + dot, y0), fill=(240, 240, 255))
            draw.ellipse(
                (cx - 2 * dot, y0 - width * 0.28, cx + 2 * dot, y0 - width * 0.2),
                fill=(255, 190, 40),
            )
    elif spec.decoration == "cherries":
        for _ in range(int(rng.integers(3, 8))):
            cx = x0 + width * (0.1 + 0.8 * rng.random())
            r = dot * 3
            draw.ellipse((cx - r, y0 - r * 1.5, cx + r, y0 + r * 0.5), fill=(180, 10, 30))


def draw_cake(spec: CakeSpec) -> Image.Image:
    """Draw the cake ``spec`` describes: background, plate, tiers, icing and decorations (RGB)."""
    rng = np.random.default_rng(spec.seed + 1)
    image = _background(spec, rng)
    draw = ImageDraw.Draw(image)
    boxes = _tier_boxes(spec)
    bx0, _, bx1, by1 = boxes[0]
    pad = (bx1 - bx0) * 0.12
    plate_depth = (bx1 - bx0) * 0.22
    draw.ellipse(
        (bx0 - pad, by1 - plate_depth / 2, bx1 + pad, by1 + plate_depth / 2), fill=(235, 235, 240)
    )
    draw.ellipse(
        (bx0 - pad, by1 - plate_depth / 2, bx1 + pad, by1 + plate_depth / 2),
        outline=(170, 170, 180),
    )
    for box in boxes:
        _draw_tier(draw, spec, box)
    _decorate(draw, spec, boxes[-1], rng)
    return image


def draw_placeholder(width: int, height: int) -> Image.Image:
    """A "photo unavailable" picture: flat grey, a framed mountain pictogram and a caption."""
    image = Image.new("RGB", (width, height), (214, 214, 214))
    draw = ImageDraw.Draw(image)
    unit = min(width, height) / 10
    cx, cy = width / 2, height * 0.42
    frame = (cx - 2.4 * unit, cy - 1.8 * unit, cx + 2.4 * unit, cy + 1.8 * unit)
    draw.rectangle(frame, outline=(150, 150, 150), width=max(1, round(unit / 4)))
    draw.polygon(
        [
            (frame[0], frame[3]),
            (cx - 0.6 * unit, cy - 0.6 * unit),
            (cx + 0.6 * unit, cy + 0.6 * unit),
            (cx + 1.2 * unit, cy),
            (frame[2], frame[3]),
        ],
        fill=(160, 160, 160),
    )
    draw.ellipse(
        (cx + 0.9 * unit, cy - 1.4 * unit, cx + 1.7 * unit, cy - 0.6 * unit), fill=(170, 170, 170)
    )
    font = ImageFont.load_default(size=max(6, round(unit * 0.9)))
    caption = "photo unavailable"
    left, top, right, bottom = draw.textbbox((0, 0), caption, font=font)
    draw.text(
        ((width - (right - left)) / 2, height * 0.8 - (bottom - top) / 2),
        caption,
        fill=(120, 120, 120),
        font=font,
    )
    return image
