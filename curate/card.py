"""The export's README.md: a Hugging Face dataset card header and a datasheet, every number
read from the catalog and the export."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from catalog.datasheet import (
    RunRow,
    error_counts,
    harvest_runs,
    http_error_count,
    last_run,
    source_spans,
)
from catalog.db import Catalog
from catalog.runs import get_setting
from catalog.stats import (
    duplicate_counts,
    image_status_counts,
    review_counts,
    synset_counts,
    url_counts,
)
from curate.attribution import Exported, asks_for_credit, link, plain_text
from curate.licenses import FilterCounts, LicenseFilter, hugging_face_license, parse_license
from synthset import __version__
from synthset.export_format import SPLIT_FOLDERS

if TYPE_CHECKING:
    from curate.export import ExportOptions

CARD_FILE = "README.md"
CRITERION_SETTING = "review.criterion"  # as curate review remembers it (curate/review/app.py)
TASK = "unconditional-image-generation"
SIZE_CATEGORIES = (  # Hugging Face's buckets: (upper bound, label)
    (1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B"),
)
# Error tokens that mean "the owner said no", and how the card names them.
OPT_OUT_TOKENS = {"robots": "refused by robots.txt", "opted_out": "opted out (X-Robots-Tag)"}
# Run arguments that say what a crawl looked for, in the order the card lists them.
QUERY_ARGS = ("category", "search", "q", "query", "wnid", "synset", "hyponyms", "start_urls",
              "urls_file", "archive", "depth", "license", "license_type", "source", "mature",
              "limit", "dir")
TRUNCATED_NOTE = "openverse_truncated"  # runs.stats key (crawler/spiders/openverse.py)
IMAGE_STATUSES = ("empty", "corrupt", "not_image", "placeholder", "too_small")


@dataclass(frozen=True)
class ExportFacts:
    """What one export did, as the card reports it."""

    name: str
    options: ExportOptions
    images: Sequence[Exported]  # in manifest order
    candidates: int  # images the catalog offered (accepted, ok, kept)
    license_filter: LicenseFilter
    left_out: FilterCounts
    undecodable: int


def size_category(count: int) -> str:
    """Hugging Face's ``size_categories`` label for ``count`` examples."""
    for bound, label in SIZE_CATEGORIES:
        if count < bound:
            return label
    return "n>1B"


def _yaml(value: str) -> str:
    """A YAML scalar: JSON's double-quoted string is valid YAML and escapes everything."""
    return json.dumps(value, ensure_ascii=False)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """A Markdown table (cells already escaped)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _split_counts(facts: ExportFacts) -> dict[str, int]:
    """Exported images per Hugging Face split name, in SPLIT_FOLDERS order, empty ones left out."""
    counts = Counter(SPLIT_FOLDERS[image.split] for image in facts.images)
    return {name: counts[name] for name in SPLIT_FOLDERS.values() if counts[name]}


def _words(catalog: Catalog, facts: ExportFacts) -> dict[str, str]:
    """wnid -> words for the synsets of the exported images."""
    wnids = {image.row.wnid for image in facts.images if image.row.wnid}
    return {row.key: row.words or "" for row in synset_counts(catalog) if row.key in wnids}


def _header(catalog: Catalog, facts: ExportFacts) -> list[str]:
    """The YAML block Hugging Face reads: licence, size, task, name, split files."""
    licenses = hugging_face_license({image.row.license for image in facts.images})
    words = sorted({w.split(",")[0].strip() for w in _words(catalog, facts).values() if w})
    pretty = f"{facts.name}: {', '.join(words)}" if words else facts.name
    lines = ["---", "license:"] + [f"- {license}" for license in licenses]
    lines += ["size_categories:", f"- {size_category(len(facts.images))}",
              "task_categories:", f"- {TASK}", f"pretty_name: {_yaml(pretty)}",
              "configs:", "- config_name: default", "  data_files:"]
    for split in _split_counts(facts):
        lines += [f"  - split: {split}", f"    path: images/{split}/*"]
    return [*lines, "---", ""]


def _intro(facts: ExportFacts) -> list[str]:
    splits = _split_counts(facts)
    parts = ", ".join(f"{count} {split}" for split, count in splits.items())
    return [
        f"# {facts.name}",
        "",
        f"{len(facts.images)} images ({parts}), exported by synthset {__version__} "
        "(`curate export`) from its catalog. Credits: [ATTRIBUTION.md](ATTRIBUTION.md); "
        "every file: `manifest.csv`; parameters: `export.json`.",
        "",
        "```python",
        "from datasets import load_dataset",
        f'dataset = load_dataset("datasets/{facts.name}")  # splits: {", ".join(splits)}',
        "```",
        "",
    ]


def _run_arguments(run: RunRow) -> str:
    """The run's query arguments as ``name=value`` pairs (those it was given)."""
    pairs = []
    for name in QUERY_ARGS:
        value = run.args.get(name)
        if value in (None, "", [], False):
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        pairs.append(f"{name}={plain_text(shown, 120)}")
    return "; ".join(pairs) or "(none)"


def _sources(catalog: Catalog, facts: ExportFacts) -> list[str]:
    lines = ["## Sources", "", "URLs per source, with when they were discovered:", ""]
    lines += _table(
        ("source", "URLs found", "fetched", "first found", "last found"),
        [(s.source, s.urls, s.fetched, s.first_discovered, s.last_discovered)
         for s in source_spans(catalog)],
    )
    runs = harvest_runs(catalog)
    lines += ["", "Crawls and imports (from the catalog's `runs`):", ""]
    lines += _table(
        ("run", "command", "started", "finished", "queries"),
        [(run.id, f"`{run.command}`", run.started_at, run.finished_at or "unfinished",
          _run_arguments(run)) for run in runs],
    ) if runs else ["No crawl or import run is recorded in this catalog."]
    words = _words(catalog, facts)
    exported = Counter(image.row.wnid for image in facts.images)
    rows = [(wnid, plain_text(words.get(wnid)), count)
            for wnid, count in sorted(exported.items(), key=lambda item: item[0] or "~")]
    lines += ["", "Synsets of the exported images (WordNet 3.0 ids):", ""]
    lines += _table(("wnid", "words", "images exported"),
                    [(wnid or "(none)", text if wnid else "no synset", count)
                     for wnid, text, count in rows])
    return [*lines, ""]


def _politeness(catalog: Catalog) -> list[str]:
    lines = ["## Politeness and opt-outs", ""]
    recorded = [(run, run.args["politeness"]) for run in harvest_runs(catalog)
                if isinstance(run.args.get("politeness"), dict)]
    for run, settings in recorded:
        shown = "; ".join(f"{key}={plain_text(str(value), 120)}"
                          for key, value in sorted(settings.items()))
        lines.append(f"- run {run.id} (`{run.command}`): {shown}")
    if not recorded:
        lines.append("- The crawl runs in this catalog did not record their politeness settings.")
    errors = error_counts(catalog)
    for token, label in OPT_OUT_TOKENS.items():
        lines.append(f"- {label}: {errors.get(token, 0)} URL(s), never stored or exported "
                     f"(error `{token}`)")
    return [*lines, ""]


def _stage_rows(catalog: Catalog, facts: ExportFacts) -> list[tuple[str, int]]:
    """(stage, count) from the first URL found to the last image exported."""
    urls = url_counts(catalog)
    errors = error_counts(catalog)
    statuses = image_status_counts(catalog)
    review = review_counts(catalog)
    left_out = facts.left_out.as_dict()["by_rule"]
    return [
        ("URLs found", urls["total"]),
        ("URLs fetched", urls["fetched"]),
        ("fetch errors (any error token)", sum(errors.values())),
        ("HTTP errors (status 400 or more)", http_error_count(catalog)),
        *((label, errors.get(token, 0)) for token, label in OPT_OUT_TOKENS.items()),
        ("dead (judged by curate check)", urls["dead"]),
        ("distinct images stored", sum(statuses.values())),
        *((status.replace("_", " "), statuses.get(status, 0)) for status in IMAGE_STATUSES),
        ("unchecked", statuses.get(None, 0)),
        ("ok", statuses.get("ok", 0)),
        ("duplicate (removed by curate dedup)", duplicate_counts(catalog)["removed"]),
        ("screened: accepted", review["accepted"]),
        ("screened: rejected", review["rejected"]),
        ("screened: skipped", review["skipped"]),
        ("screened: undecided", review["undecided"]),
        ("export candidates", facts.candidates),
        ("left out: unknown licence", left_out["unknown"]),
        ("left out: licence not selected", left_out["not_selected"]),
        ("left out: undecodable", facts.undecodable),
        ("exported", len(facts.images)),
    ]


def _stages(catalog: Catalog, facts: ExportFacts) -> list[str]:
    lines = ["## Counts at every stage", ""]
    lines += _table(("stage", "count"), _stage_rows(catalog, facts))
    return [*lines, ""]


def _screening(catalog: Catalog, facts: ExportFacts) -> list[str]:
    criterion = get_setting(catalog, CRITERION_SETTING)
    review = review_counts(catalog)
    lines = ["## Screening", ""]
    lines.append(f"- Criterion: {plain_text(criterion, 500)}" if criterion
                 else "- Criterion: none was recorded (`curate review --criterion TEXT`).")
    lines.append(f"- Decisions in force over the {review['reviewable']} ok, kept images: "
                 f"{review['accepted']} accepted, {review['rejected']} rejected, "
                 f"{review['skipped']} skipped, {review['undecided']} undecided.")
    lines.append("- Exported: accepted images" + (
        ", plus undecided and skipped ones (`--include-unreviewed`)."
        if facts.options.include_unreviewed else " only."))
    check = last_run(catalog, "check")
    if check and "min_side" in check.args:
        lines.append(f"- `curate check` (run {check.id}): images with a side under "
                     f"{check.args['min_side']} px judged too small; placeholders within "
                     f"{check.args.get('placeholder_radius', '?')} pHash bits of a known one.")
    dedup = last_run(catalog, "dedup")
    if dedup:
        lines.append(f"- `curate dedup` (run {dedup.id}): exact copies, then near duplicates "
                     f"within {dedup.args.get('threshold', '?')} bits of "
                     f"{dedup.args.get('hash', '?')}; one image kept per group.")
    if facts.license_filter.active:
        lines.append(f"- Licence filter `--license {','.join(facts.license_filter.describe())}`:"
                     " images of other or unknown licences left out.")
    return [*lines, ""]


def _preprocessing(facts: ExportFacts) -> list[str]:
    options = facts.options
    colour = "converted to grayscale" if options.color == "gray" else "kept in RGB"
    decode = (" JPEGs decoded at reduced resolution (`--reduced-decode`), not pixel-identical "
              "to a full decode." if options.reduced_decode else "")
    return [
        "## Preprocessing", "",
        f"Each image: decoded with EXIF orientation applied, {colour}, the longer side "
        f"centre-cropped to the shorter, resized to {options.size}x{options.size} with "
        f"`cv2.resize(..., interpolation=INTER_{options.interpolation.upper()})`, stored as an "
        f"8-bit PNG (pixels 0..255).{decode}", "",
    ]


def _splits(facts: ExportFacts) -> list[str]:
    counts = ", ".join(f"{split} {count}" for split, count in _split_counts(facts).items())
    return [
        "## Splits", "",
        f"`validation` when `int(sha256[:8], 16) / 2**32 < {facts.options.val_fraction}` "
        "(the stored original's sha256), else `train`: the same image is always on the same "
        f"side, whatever else is exported. Images: {counts}.", "",
    ]


def _licenses(facts: ExportFacts) -> list[str]:
    counts = Counter(image.row.license for image in facts.images)
    rows = []
    for license_id in sorted(counts, key=lambda key: (key is None, key or "")):
        if license_id is None:
            rows.append(("unknown", "not stated by the source", counts[None], "unknown"))
            continue
        parsed = parse_license(license_id)
        urls = {image.row.license_url for image in facts.images
                if image.row.license == license_id and image.row.license_url}
        url = min(urls) if urls else parsed.canonical_url
        rows.append((license_id, link(plain_text(parsed.name), url), counts[license_id],
                     "yes" if asks_for_credit(license_id) else "no"))
    lines = ["## Licences", ""]
    lines += _table(("licence", "name", "images", "credit required"), rows)
    return [*lines, ""]


def _counted(values: Counter) -> str:
    """``a (2), b (1)``: each value and its count, most frequent first, then by name."""
    ranked = sorted(values.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{plain_text(value, 120)} ({count})" for value, count in ranked)


def _source_terms(facts: ExportFacts) -> list[str]:
    """What the sources say beyond licence and creator (docs/sources.md), as counts."""
    rows = [image.row for image in facts.images]
    restricted = Counter(name for row in rows for name in (row.restrictions or "").split("|")
                         if name)
    with_restrictions = sum(1 for row in rows if row.restrictions)
    required = Counter(row.attribution_required for row in rows
                       if row.attribution_required is not None)
    terms = Counter(row.usage_terms for row in rows if row.usage_terms)
    no_author = sum(1 for row in rows if not row.creator)
    credited = sum(1 for row in rows if row.credit)
    mature = sum(1 for row in rows if row.mature)
    providers = Counter(f"{row.upstream_source or '?'} via {row.provider or '?'}" for row in rows
                        if row.upstream_source or row.provider)
    lines = ["## What the sources say", "",
             "Beyond licence and creator (columns of `manifest.csv`; docs/sources.md in "
             "synthset says what each source means by them):", ""]
    lines.append(f"- Restrictions (`restrictions`): {with_restrictions} image(s)"
                 + (f": {_counted(restricted)}. A licence does not clear personality rights, "
                    "trademarks or insignia: check them before use." if with_restrictions
                    else "."))
    if required:
        lines.append(f"- Attribution required (`attribution_required`, Commons): "
                     f"yes {required[True]}, no {required[False]}.")
    if terms:
        lines.append(f"- Usage terms (`usage_terms`, Commons): {_counted(terms)}.")
    lines.append(f"- No author named by the source: {no_author} image(s); where a credit is "
                 "due, their line in ATTRIBUTION.md says the author is unknown and points to "
                 "the page that describes the image.")
    if credited:
        lines.append(f"- Commons' credit (`credit`: the file's source, not its author): "
                     f"{credited} image(s).")
    if providers:
        lines.append(f"- Openverse source via provider (`upstream_source`, `provider`): "
                     f"{_counted(providers)}.")
    if any(row.source == "openverse" for row in rows):
        lines.append(f"- Marked mature by Openverse (`mature`): {mature} image(s).")
    return [*lines, ""]


def _truncated_searches(catalog: Catalog) -> list[str]:
    """One line per harvest run whose search counted more results than its pages reached."""
    lines = []
    for run in harvest_runs(catalog):
        note = run.stats.get(TRUNCATED_NOTE)
        if not isinstance(note, dict):
            continue
        lines.append(
            f"- The search of run {run.id} (`{run.command}`: {_run_arguments(run)}) was "
            f"truncated: the API counted {note.get('result_count', '?')} results, its "
            f"{note.get('pages', '?')} pages of {note.get('page_size', '?')} reached "
            f"{note.get('listed', '?')}; {note.get('left', '?')} were never listed. A narrower "
            "query or a registered Openverse client reaches more."
        )
    return lines


def _limitations(catalog: Catalog, facts: ExportFacts) -> list[str]:
    unknown = sum(1 for image in facts.images if not image.row.license)
    sources = {image.row.source for image in facts.images}
    lines = ["## Known limitations", "", *_truncated_searches(catalog)]
    if unknown:
        lines.append(f"- {unknown} images have no licence recorded by their source: ask their "
                     "owners before redistributing them, or re-export with `--license`.")
    if "imagenet" in sources:
        lines.append("- Images reached through ImageNet URL lists belong to their creators; "
                     "ImageNet's terms allow non-commercial research use only.")
    lines += [
        "- Near duplicates further apart than the dedup threshold (heavy crops, edits) may "
        "remain, and may fall on both sides of the split.",
        "- The split follows the content hash, not the creator or the source: one creator's "
        "images can be in both splits.",
        "- Opt-outs are those stated at crawl time (robots.txt, X-Robots-Tag); later ones are "
        "not reflected.",
        "- Screening reflects one reviewer's reading of the criterion.",
    ]
    return [*lines, ""]


def dataset_card(catalog: Catalog, facts: ExportFacts) -> str:
    """The export's README.md: the Hugging Face header, then the datasheet sections."""
    sections = [
        _header(catalog, facts), _intro(facts), _sources(catalog, facts), _politeness(catalog),
        _stages(catalog, facts), _screening(catalog, facts), _preprocessing(facts),
        _splits(facts), _licenses(facts), _source_terms(facts), _limitations(catalog, facts),
    ]
    return "\n".join(line for section in sections for line in section).rstrip("\n") + "\n"
