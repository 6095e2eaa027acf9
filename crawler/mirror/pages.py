"""The small web site under /web/ that `web_images` crawls: pages at depths 1 to 4, images."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from PIL import Image

from crawler.mirror import encoding, failures
from crawler.mirror.plan import Planner, Planted, Resource, cake_encoder, planted

PAGE_DEPTHS = {
    "index.html": 1,
    "page2a.html": 2,
    "page2b.html": 2,
    "page3.html": 3,
    "page4.html": 4,
}
SRCSET_WIDTHS = (200, 400, 800)


@dataclass
class WebSite:
    """The pages (url -> depth) and the image rows found on them."""

    pages: dict[str, int] = field(default_factory=dict)
    rows: list[Planted] = field(default_factory=list)


def _page(title: str, head: str, body: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{title}</title>\n{head}</head>\n"
        f"<body>\n<h1>{title}</h1>\n{body}</body></html>\n"
    ).encode()


class _Builder:
    def __init__(self, planner: Planner) -> None:
        self.p = planner
        self.site = WebSite()
        self.count = 0

    def page_url(self, name: str) -> str:
        return self.p.url(f"/web/{name}")

    def found(self, page: str, row: Planted) -> Planted:
        row.source, row.found_on, row.depth = "web", self.page_url(page), PAGE_DEPTHS[page]
        self.site.rows.append(row)
        return row

    def cake(self, page: str, width: int | None = None) -> tuple[str, str]:
        """An ok web cake found on ``page``; returns (root-relative path, url)."""
        self.count += 1
        spec = self.p.new_spec(**({"width": width, "height": width * 3 // 4} if width else {}))
        path = f"/img/web/w{self.count:02d}.jpg"
        url = self.p.add_cake(path, spec, cake_encoder("jpg"))
        self.found(page, planted(url, "ok", decision=spec.decision))
        return path, url

    def srcset(self, page: str, descriptor: str) -> str:
        """An <img srcset> with no src: only the largest candidate is in the truth."""
        self.count += 1
        spec = self.p.new_spec(width=SRCSET_WIDTHS[-1], height=SRCSET_WIDTHS[-1] * 3 // 4)
        candidates = []
        for n, width in enumerate(SRCSET_WIDTHS):
            path = f"/img/web/w{self.count:02d}-{width}.jpg"
            sized = replace(spec, width=width, height=width * 3 // 4)
            url = self.p.add_cake(path, sized, cake_encoder("jpg"))
            candidates.append(f"{path} {width}w" if descriptor == "w" else f"{path} {n + 1}x")
        self.found(
            page,
            planted(
                url,
                "ok",
                decision=spec.decision,
                variant=f"largest srcset candidate ({descriptor})",
            ),
        )
        return f'<img srcset="{", ".join(candidates)}" alt="cake">\n'


def build_web(p: Planner) -> WebSite:
    """Lay out /web/ (five pages, an off-site trap page) and plant its images."""
    b = _Builder(p)
    offsite = p.base_url.replace("127.0.0.1", "localhost") + "web/offsite.html"

    src_path, src_url = b.cake("index.html")
    rel_path, _ = b.cake("index.html")
    og_path, og_url = b.cake("index.html")
    link_path, _ = b.cake("index.html")
    lazy_path, _ = b.cake("index.html")
    blank = p.add_bytes(
        "/img/web/blank.gif", lambda: encoding.gif(Image.new("RGB", (1, 1), "white"))
    )
    b.found("index.html", planted(blank, "too_small", variant="1x1 lazy-load stand-in"))
    private = p.add_cake("/private/cake.jpg", p.new_spec(), cake_encoder("jpg"))
    b.found("index.html", planted(private, "robots", variant="disallowed by robots.txt"))
    b.found("index.html", failures.plant_not_found(p, "web")[0])
    b.found("index.html", failures.plant_placeholders(p, "web", count=1)[0])
    index = (
        f'<img src="{src_path}" alt="cake">\n'
        f'<img src="..{rel_path}" alt="relative">\n'
        + b.srcset("index.html", "w")
        + f'<img src="/img/web/blank.gif" data-src="{lazy_path}" class="lazy" alt="lazy">\n'
        f'<p><a href="{link_path}">full-size picture</a></p>\n'
        '<img src="/private/cake.jpg" alt="private">\n'
        f'<img src="/fail/404/web.jpg" alt="gone">\n'
        '<img src="/placeholder/web-0/photo_unavailable.png" alt="gone too">\n'
        '<ul><li><a href="page2a.html">more cakes</a></li>\n'
        '<li><a href="/web/page2b.html#comments">comments</a></li>\n'
        f'<li><a href="{offsite}">another site</a></li>\n'
        '<li><a href="mailto:baker@example.invalid">mail the baker</a></li></ul>\n'
    )
    head = f'<meta property="og:image" content="{og_url}">\n'
    pages = {"index.html": _page("Cake gallery", head, index)}

    a_path, _ = b.cake("page2a.html")
    pages["page2a.html"] = _page(
        "More cakes",
        "",
        f'<img src="{a_path}" alt="cake">\n'
        + b.srcset("page2a.html", "x")
        + '<a href="page3.html">older cakes</a> <a href="index.html">home</a>\n',
    )
    b2_path, _ = b.cake("page2b.html")
    copy = p.add_bytes("/img/web/copy-of-first.jpg", lambda: p.body(src_path))
    b.found(
        "page2b.html", planted(copy, "exact_duplicate", duplicate_of=src_url, variant="same bytes")
    )
    pages["page2b.html"] = _page(
        "Comments",
        "",
        f'<img src="..{b2_path}" alt="cake">\n<img src="/img/web/copy-of-first.jpg" alt="again">\n'
        '<a id="comments" href="page2a.html#top">back</a> <a href="page3.html">older</a>\n',
    )
    c1, _ = b.cake("page3.html")
    c2, _ = b.cake("page3.html")
    pages["page3.html"] = _page(
        "Older cakes",
        "",
        f'<img src="{c1}" alt="cake">\n<a href="{c2}">download</a>\n'
        '<a href="page4.html">oldest</a> <a href="/web/index.html">home</a>\n',
    )
    d1, _ = b.cake("page4.html")
    pages["page4.html"] = _page("Oldest cakes", "", f'<img src="{d1}" alt="cake">\n')
    trap = p.add_cake("/img/web/offsite.jpg", p.new_spec(), cake_encoder("jpg"))
    pages["offsite.html"] = _page("Another site", "", f'<img src="{trap}" alt="not ours">\n')

    for name, html in pages.items():
        p.add(
            f"/web/{name}",
            Resource(
                render=lambda html=html: html, content_type="text/html; charset=utf-8", image=False
            ),
        )
    b.site.pages = {b.page_url(name): depth for name, depth in PAGE_DEPTHS.items()}
    return b.site
