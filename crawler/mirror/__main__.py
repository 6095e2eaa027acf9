"""``python -m crawler.mirror``: start the mirror; the first stdout line is its base URL."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from crawler.mirror.server import LOOPBACK, MirrorServer, closed_port
from crawler.mirror.site import MirrorOptions, Site
from crawler.mirror.wordnet_tree import ICE_CREAM_CAKE
from synthset.errors import SynthsetError


class MirrorOptionError(SynthsetError):
    """A mirror option has a value the mirror refuses (e.g. a host other than 127.0.0.1)."""


def parse_options(argv: list[str] | None = None) -> tuple[argparse.Namespace, MirrorOptions]:
    """Parse and validate the command line."""
    parser = argparse.ArgumentParser(prog="python -m crawler.mirror", description=__doc__)
    parser.add_argument("--host", default=LOOPBACK, help="only 127.0.0.1 is allowed")
    parser.add_argument("--port", type=int, default=8800, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", type=int, default=400, help="plain cakes listed for n07631926")
    parser.add_argument(
        "--latency-ms", type=int, default=0, help="delay before every image response"
    )
    parser.add_argument(
        "--dead-fraction", type=float, default=0.0, help="benchmark list: share of 404s"
    )
    parser.add_argument("--truth", type=Path, help="also write the ground truth to this file")
    parser.add_argument(
        "--prerender",
        action="store_true",
        help="render n07631926's images before printing the base URL (fair benchmarks)",
    )
    args = parser.parse_args(argv)
    if args.host != LOOPBACK:
        raise MirrorOptionError(
            f"--host {args.host}: the mirror serves on {LOOPBACK} only; drop --host"
        )
    if args.images < 1:
        raise MirrorOptionError(f"--images {args.images}: give at least 1")
    if not 0 <= args.dead_fraction < 1:
        raise MirrorOptionError(f"--dead-fraction {args.dead_fraction}: give a fraction in [0, 1)")
    if args.latency_ms < 0:
        raise MirrorOptionError(f"--latency-ms {args.latency_ms}: give 0 or more")
    options = MirrorOptions(args.seed, args.images, args.latency_ms, args.dead_fraction)
    return args, options


def start_server(port: int) -> MirrorServer:
    """Bind 127.0.0.1:``port``, naming the fix when the port is taken."""
    try:
        return MirrorServer(port)
    except OSError as error:
        raise MirrorOptionError(
            f"--port {port}: cannot listen on {LOOPBACK} ({error.strerror}); "
            "pick another port (0 = any free port)"
        ) from error


def main(argv: list[str] | None = None) -> int:
    """Run the mirror until killed (SIGTERM or SIGINT stop it cleanly)."""
    try:
        args, options = parse_options(argv)
        server = start_server(args.port)
        refused = closed_port()
    except SynthsetError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    server.site = Site(options, server.base_url, f"http://{LOOPBACK}:{refused}/")
    if args.prerender:
        server.site.prerender(ICE_CREAM_CAKE)
    if args.truth:
        args.truth.write_bytes(server.site.truth_bytes())
    print(server.base_url, flush=True)

    def stop(signum: int, frame: object) -> None:
        server.stopping.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        server.stopping.set()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
