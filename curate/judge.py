"""The judgment of one stored body: decode it fully, measure it, hash it, give a status."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from catalog.checks import ImageCheck
from curate.decode import DEFAULT_MAX_PIXELS, DRAFT_SIDE, DecodedImage, decode_image
from curate.hashing import HASH_VERSION, hash_image

DEFAULT_MIN_SIDE = 32


@dataclass(frozen=True)
class JudgeOptions:
    """Thresholds for judging one image."""

    min_side: int = DEFAULT_MIN_SIDE  # a shorter side below this is too_small
    max_pixels: int = DEFAULT_MAX_PIXELS  # larger pictures are refused (decompression bombs)
    # Decode large JPEGs at libjpeg's reduced DCT scale (every byte still decoded, see
    # curate.decode): 2-5x faster; their pixel_sha256 is then of the reduced pixels
    # (curate.hashing.pixel_sha256 says what that means). False: full size for every format.
    draft: bool = True


def judge_bytes(sha256: str, data: bytes, options: JudgeOptions) -> ImageCheck:
    """Judge one body: empty, not_image, corrupt, too_small or ok (placeholders come later)."""
    draft_side = DRAFT_SIDE if options.draft else None
    decoded = decode_image(data, max_pixels=options.max_pixels, draft_side=draft_side)
    if not isinstance(decoded, DecodedImage):
        return ImageCheck(sha256=sha256, status=decoded.status, reason=decoded.reason)
    hashes = hash_image(decoded.image)
    width, height = decoded.width, decoded.height
    status, reason = "ok", f"decodes fully: {decoded.format} {width}x{height} {decoded.mode}"
    if min(width, height) < options.min_side:
        status = "too_small"
        side = min(width, height)
        reason = f"{width}x{height}: shorter side {side} px < minimum {options.min_side} px"
    return ImageCheck(
        sha256=sha256,
        status=status,
        reason=reason,
        format=decoded.format,
        width=width,
        height=height,
        mode=decoded.mode,
        frames=decoded.frames,
        pixel_sha256=hashes.pixel_sha256,
        phash=hashes.phash,
        dhash=hashes.dhash,
        whash=hashes.whash,
        centre5_phash=hashes.centre5_phash,
        centre10_phash=hashes.centre10_phash,
        hash_version=HASH_VERSION,
    )


def judge_file(sha256: str, path: Path, options: JudgeOptions) -> ImageCheck:
    """Judge the stored file of one image; a missing or unreadable file is ``corrupt``."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        return ImageCheck(
            sha256=sha256,
            status="corrupt",
            reason=f"stored file unreadable: {error.strerror or error}",
        )
    return judge_bytes(sha256, data, options)


def judge_files(jobs: list[tuple[str, str]], options: JudgeOptions) -> list[ImageCheck]:
    """Judge a chunk of (sha256, absolute path) jobs; the unit of work of a worker process."""
    return [judge_file(sha256, Path(path), options) for sha256, path in jobs]
