"""A fast loopback image server on many hosts: 127.0.0.1 ... 127.0.0.N, one port, asyncio.

``python benchmarks/imagefarm.py --hosts 32 --latency-ms 100 --dead-fraction 0.3``
prints ``PORT`` on its first stdout line, then serves until killed:

- ``/robots.txt``: allow all;
- ``/requests.json``: how many times each image path was asked for, so far;
- ``/img/<n>.jpg``: after the latency, a 404 for the dead share of ``n`` (chosen by
  a hash of ``n``, the same every run), else a real JPEG made unique by a trailer
  after its end-of-image marker (decoders ignore it), so every body has its own sha256.

Linux routes all of 127.0.0.0/8 to the loopback interface, so each address is a
separate host to a crawler (its own per-host limits) without leaving the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import io
import json
import sys
from collections import Counter

from PIL import Image, ImageDraw

MAX_HOSTS = 254  # 127.0.0.1 ... 127.0.0.254
SIZES = ((320, 240), (500, 375), (640, 480), (375, 500))  # typical ImageNet thumbnails


def draw_jpegs() -> list[bytes]:
    """A few real JPEGs of typical sizes (a gradient and shapes, so they compress like photos)."""
    bodies = []
    for number, (width, height) in enumerate(SIZES):
        image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
        draw = ImageDraw.Draw(image)
        for step in range(12):
            left, top = step * 23 % (width - 80), step * 17 % (height - 80)
            draw.ellipse((left, top, left + 40 + step * 3, top + 30 + step * 4),
                         fill=((step * 40 + number * 60) % 256, step * 20 % 256, 90))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=85)
        bodies.append(buffer.getvalue())
    return bodies


def is_dead(number: int, dead_fraction: float) -> bool:
    """Whether image ``number`` answers 404 (a stable hash of the number decides)."""
    digest = hashlib.blake2b(str(number).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") / 2**32 < dead_fraction


class Farm:
    """Answers the requests of one connection after another (HTTP/1.1 keep-alive)."""

    def __init__(self, latency_s: float, dead_fraction: float) -> None:
        self.latency_s = latency_s
        self.dead_fraction = dead_fraction
        self.jpegs = draw_jpegs()
        self.requests: Counter[str] = Counter()

    def answer(self, path: str) -> tuple[int, bytes, str]:
        """Status, body and content type for ``path``."""
        if path == "/robots.txt":
            return 200, b"User-agent: *\nAllow: /\n", "text/plain"
        if path == "/requests.json":
            return 200, json.dumps(self.requests).encode(), "application/json"
        if path.startswith("/img/") and path.endswith(".jpg") and path[5:-4].isdigit():
            number = int(path[5:-4])
            self.requests[path] += 1
            if is_dead(number, self.dead_fraction):
                return 404, b"not found\n", "text/plain"
            base = self.jpegs[number % len(self.jpegs)]
            return 200, base + b"synthset-farm-%d" % number, "image/jpeg"
        return 404, b"not found\n", "text/plain"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection: read request heads, answer each after the latency."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line = head.split(b"\r\n", 1)[0].decode("latin-1").split()
                if len(request_line) < 2:
                    break
                method, path = request_line[0], request_line[1]
                status, body, ctype = self.answer(path)
                if path.startswith("/img/"):
                    await asyncio.sleep(self.latency_s)
                reason = "OK" if status == 200 else "Not Found"
                writer.write(
                    f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode("latin-1")
                    + (body if method != "HEAD" else b"")
                )
                await writer.drain()
                if b"connection: close" in head.lower():
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()


async def main_async(hosts: int, latency_s: float, dead_fraction: float) -> None:
    """Bind every host on one free port, print it, serve forever."""
    farm = Farm(latency_s, dead_fraction)
    first = await asyncio.start_server(farm.serve, "127.0.0.1", 0, backlog=4096)
    port = first.sockets[0].getsockname()[1]
    servers = [first]
    for host in range(2, hosts + 1):
        servers.append(await asyncio.start_server(farm.serve, f"127.0.0.{host}", port,
                                                  backlog=4096))
    print(port, flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


def main() -> int:
    """Parse the options and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=32, help=f"1..{MAX_HOSTS} addresses")
    parser.add_argument("--latency-ms", type=int, default=100, help="delay before each image")
    parser.add_argument("--dead-fraction", type=float, default=0.3, help="share of 404s")
    options = parser.parse_args()
    if not 1 <= options.hosts <= MAX_HOSTS:
        print(f"Error: --hosts {options.hosts}: give 1..{MAX_HOSTS}", file=sys.stderr)
        return 1
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main_async(options.hosts, options.latency_ms / 1000, options.dead_fraction))
    return 0


if __name__ == "__main__":
    sys.exit(main())
