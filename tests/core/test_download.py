"""Tiny Shakespeare download against a local HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
import time

import pytest

from playground import settings
from playground.core import download
from playground.core.corpus import load_builtin, verify_record
from playground.errors import Cancelled, CorpusError, DownloadError

PAYLOAD = b"First Citizen:\nBefore we proceed any further, hear me speak.\n" * 5000  # ~300 KB
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    payload = PAYLOAD  # class attribute: the fixture may swap in the real file

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.server.hits.append(self.path)
        if self.path == "/good":
            self._send(self.payload)
        elif self.path == "/wrong":
            self._send(self.payload[:-1] + b"!")  # same size, one byte differs
        elif self.path == "/drop":
            # Promise the whole file, send a third, then hang up.
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.payload)))
            self.end_headers()
            self.wfile.write(self.payload[: len(self.payload) // 3])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif self.path == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.payload)))
            self.end_headers()
            self.wfile.write(self.payload[:1000])
            self.wfile.flush()
            self.server.release.wait(5)  # the client's timeout fires first
        else:
            self.send_error(404, "Not Found")

    def _send(self, body: bytes):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.hits = []
    httpd.release = threading.Event()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def fake_sha(monkeypatch):
    monkeypatch.setattr(download, "TINY_SHAKESPEARE_SHA256", PAYLOAD_SHA)


def leftovers():
    folder = download.downloads_dir()
    return sorted(p.name for p in folder.iterdir())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed on exit: nothing listens there


def test_download_verifies_caches_and_reports_progress(server, fake_sha):
    httpd, base = server
    calls = []
    path = download.download_tiny_shakespeare(f"{base}/good", progress=lambda d, t: calls.append((d, t)))
    assert path == download.target_path()
    assert path.read_bytes() == PAYLOAD
    assert leftovers() == ["tinyshakespeare.txt"]  # no temp file
    assert calls[0] == (0, len(PAYLOAD)) and calls[-1] == (len(PAYLOAD), len(PAYLOAD))
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(set(done)) == len(done)  # one call per chunk received
    assert max(b - a for a, b in zip(done, done[1:])) <= download.CHUNK
    assert download.cached_tiny_shakespeare() == path


def test_cached_file_is_returned_without_network(server, fake_sha):
    httpd, base = server
    download.download_tiny_shakespeare(f"{base}/good")
    assert httpd.hits == ["/good"]
    calls = []
    dead = f"http://127.0.0.1:{free_port()}/nothing"
    assert download.download_tiny_shakespeare(dead, progress=lambda d, t: calls.append((d, t))) \
        == download.target_path()
    assert httpd.hits == ["/good"]
    assert calls == [(len(PAYLOAD), len(PAYLOAD))]


def test_url_defaults_to_the_setting(server, fake_sha):
    httpd, base = server
    settings.update(tiny_shakespeare_url=f"{base}/good")
    download.download_tiny_shakespeare()
    assert httpd.hits == ["/good"]


def test_corrupt_cache_is_downloaded_again(server, fake_sha):
    httpd, base = server
    (download.downloads_dir() / "tinyshakespeare.txt").write_bytes(b"half a fi")
    assert download.cached_tiny_shakespeare() is None
    assert download.download_tiny_shakespeare(f"{base}/good").read_bytes() == PAYLOAD
    assert httpd.hits == ["/good"]


def test_wrong_checksum_leaves_nothing(server, fake_sha):
    httpd, base = server
    with pytest.raises(DownloadError) as err:
        download.download_tiny_shakespeare(f"{base}/wrong")
    assert err.value.message == ("The downloaded file is not the expected Tiny Shakespeare "
                                 "(its checksum does not match).")
    assert "address" in err.value.hint
    assert leftovers() == []


def test_dropped_connection_leaves_nothing(server, fake_sha):
    httpd, base = server
    with pytest.raises(DownloadError) as err:
        download.download_tiny_shakespeare(f"{base}/drop")
    third = len(PAYLOAD) // 3
    assert err.value.message in (
        f"Could not download Tiny Shakespeare: the connection to {base[7:]} was dropped "
        f"after {third} of {len(PAYLOAD)} bytes.",
        # some Python versions raise IncompleteRead/ConnectionReset instead of returning b""
        f"Could not download Tiny Shakespeare: the connection to {base[7:]} broke after "
        f"{third} bytes (IncompleteRead).",
    )
    assert leftovers() == []
    assert download.cached_tiny_shakespeare() is None


def test_stalled_server_times_out_and_leaves_nothing(server, fake_sha):
    httpd, base = server
    start = time.monotonic()
    with pytest.raises(DownloadError) as err:
        download.download_tiny_shakespeare(f"{base}/stall", timeout=0.5)
    assert time.monotonic() - start < 4
    assert "stopped answering (no data for 0.5 s, after 1000 bytes)" in err.value.message
    assert leftovers() == []


def test_refused_connection_is_a_quick_clear_error():
    port = free_port()
    start = time.monotonic()
    with pytest.raises(DownloadError) as err:
        download.download_tiny_shakespeare(f"http://127.0.0.1:{port}/input.txt", timeout=5)
    assert time.monotonic() - start < 3
    assert err.value.message.startswith(
        f"Could not download Tiny Shakespeare: no connection to 127.0.0.1:{port} (")
    assert "internet" in err.value.hint and "your own text file" in err.value.hint
    assert leftovers() == []


def test_http_error_and_bad_address(server, fake_sha):
    httpd, base = server
    with pytest.raises(DownloadError, match="answered 404 Not Found"):
        download.download_tiny_shakespeare(f"{base}/missing")
    with pytest.raises(DownloadError, match="is not a web address"):
        download.download_tiny_shakespeare("not a url")
    assert leftovers() == []


def test_cancel_from_the_progress_callback(server, fake_sha):
    httpd, base = server
    cancel = threading.Event()
    seen = []

    def progress(done, total):
        seen.append(done)
        if done > 0:  # after the first chunk
            cancel.set()

    with pytest.raises(Cancelled, match="cancelled"):
        download.download_tiny_shakespeare(f"{base}/good", progress=progress, cancel=cancel)
    assert len(seen) == 2 and 0 < seen[1] < len(PAYLOAD)  # stopped at the next poll
    assert leftovers() == []


def test_cancel_before_start_touches_no_network(server, fake_sha):
    httpd, base = server
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        download.download_tiny_shakespeare(f"{base}/good", cancel=cancel)
    assert httpd.hits == [] and leftovers() == []


def test_load_tiny_shakespeare_and_its_record(server, fake_sha):
    httpd, base = server
    corpus = download.load_tiny_shakespeare(f"{base}/good")
    assert corpus.name == "Tiny Shakespeare"
    assert corpus.source == str(download.target_path().resolve())
    assert corpus.text == PAYLOAD.decode()
    assert load_builtin("tiny-shakespeare").text == corpus.text  # cached: no network
    record = corpus.record()
    assert verify_record(record).name == "Tiny Shakespeare"
    download.target_path().unlink()
    with pytest.raises(CorpusError) as err:
        verify_record(record)
    assert err.value.hint == "Download Tiny Shakespeare again."


def test_the_real_file_verifies(server, shakespeare_path):
    httpd, base = server
    Handler.payload = shakespeare_path.read_bytes()  # served from ../shared, never copied
    try:
        path = download.download_tiny_shakespeare(f"{base}/good")
    finally:
        Handler.payload = PAYLOAD
    assert path.stat().st_size == download.TINY_SHAKESPEARE_BYTES
    corpus = download.load_tiny_shakespeare()
    assert corpus.stats().unique_chars == 65  # the classic char vocabulary


def test_a_killed_downloads_temp_file_is_removed_by_the_next_download(server, fake_sha):
    """SIGKILL cannot be cleaned up after by the process itself: the next download does it."""
    import os
    import signal
    import subprocess
    import sys

    httpd, base = server
    folder = download.downloads_dir()
    code = ("import sys; from playground.core import download; "
            "download.download_file(sys.argv[1], download.target_path(), sys.argv[2])")
    proc = subprocess.Popen([sys.executable, "-c", code, f"{base}/stall", PAYLOAD_SHA], env=dict(os.environ))
    try:
        deadline = time.monotonic() + 60
        while "/stall" not in httpd.hits or not any(p.name.endswith(".tmp") for p in folder.iterdir()):
            assert proc.poll() is None and time.monotonic() < deadline, "the download never started writing"
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    left = leftovers()
    assert len(left) == 1 and left[0].startswith(".tinyshakespeare.txt.")  # what the kill left behind
    path = download.download_tiny_shakespeare(f"{base}/good")
    assert path.read_bytes() == PAYLOAD
    assert leftovers() == ["tinyshakespeare.txt"]
