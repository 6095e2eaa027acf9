"""The catalog pipeline's writer process: batches written in order, failures handed back,
and no writer left behind by a killed crawl."""

from __future__ import annotations

import hashlib
import io
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from catalog import open_catalog
from catalog.harvest import DiscoveredUrl
from crawler.catalogwriter import (
    Batch,
    CatalogWriterFailed,
    CatalogWriterProcess,
    _receive,
    _send,
    serve,
)
from crawler.items import FetchedImage, Synset

REPO = Path(__file__).resolve().parent.parent
JPEG = b"\xff\xd8\xff\xe0" + b"synthset test body" * 100


def fetched(url: str, body: bytes | None) -> FetchedImage:
    return FetchedImage(url=url, source="imagenet", wnid="n07631926",
                        http_status=200 if body else 404, body=body)


def test_a_batch_is_written_whole_and_counted(tmp_path: Path) -> None:
    batch = Batch(
        synsets=[Synset("n07631926", "ice-cream cake")],
        discovered=[DiscoveredUrl("http://a/1.jpg", "imagenet", "n07631926"),
                    DiscoveredUrl("http://a/2.jpg", "imagenet", "n07631926")],
        fetched=[fetched("http://a/1.jpg", JPEG), fetched("http://a/2.jpg", None)],
    )
    writer = CatalogWriterProcess(tmp_path, store_threads=2)
    try:
        counts = writer.write(batch)
        again = writer.write(Batch(fetched=[fetched("http://a/3.jpg", JPEG)]))  # same body
    finally:
        writer.close()
    assert writer.process.returncode == 0
    assert counts == {"synsets": 1, "discovered": 2, "new_images": 1, "flushes": 1}
    assert again == {"new_images": 0, "flushes": 1}
    sha = hashlib.sha256(JPEG).hexdigest()
    with open_catalog(tmp_path, create=False) as catalog:
        rows = {r["url"]: (r["http_status"], r["sha256"]) for r in catalog.conn.execute(
            "SELECT url, http_status, sha256 FROM urls")}
        (path,) = catalog.conn.execute("SELECT path FROM images").fetchone()
    assert rows == {"http://a/1.jpg": (200, sha), "http://a/2.jpg": (404, None),
                    "http://a/3.jpg": (200, sha)}
    assert (tmp_path / path).read_bytes() == JPEG


def test_a_failed_batch_is_raised_in_the_crawl_and_the_writer_goes_on(tmp_path: Path) -> None:
    def failing(catalog: object, batch: Batch, pool: object, threads: int) -> object:
        raise OSError(28, "No space left on device")

    source, answers = io.BytesIO(), io.BytesIO()
    _send(source, Batch(fetched=[fetched("http://a/1.jpg", JPEG)]))
    _send(source, Batch())
    source.seek(0)
    with open_catalog(tmp_path) as catalog:
        serve(catalog, 1, source, answers, write=failing)
    answers.seek(0)
    outcome, error = _receive(answers)
    assert outcome == "error" and isinstance(error, OSError) and error.errno == 28
    assert _receive(answers)[0] == "error"  # the next batch was still read and answered
    assert _receive(answers) is None


def test_a_writer_that_ended_is_an_error_not_a_hang(tmp_path: Path) -> None:
    writer = CatalogWriterProcess(tmp_path)
    writer.process.kill()
    writer.process.wait()
    with pytest.raises(CatalogWriterFailed, match="ended"):
        writer.write(Batch(fetched=[fetched("http://a/1.jpg", JPEG)]))
    writer.close()


PARENT = """
import sys, time
from crawler.catalogwriter import CatalogWriterProcess
writer = CatalogWriterProcess(sys.argv[1])
print(writer.process.pid, flush=True)
time.sleep(60)
"""


def test_the_writer_dies_with_a_killed_crawl(tmp_path: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    try:
        ended = os.pidfd_open(child)  # readable once the writer has ended (a zombie included)
    except ProcessLookupError:
        return  # ended and reaped already
    try:
        ready, _, _ = select.select([ended], [], [], 10)
    finally:
        os.close(ended)
    assert ready, f"the writer {child} outlived its crawl"
