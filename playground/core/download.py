"""Tiny Shakespeare, downloaded once: streamed, cancellable, verified, cached.

The bytes go through ``atomic.atomic_path`` (a temporary file beside the target, put in place
only on success) and are checked against a known sha256 first, so a dropped connection, a
wrong file or a cancel never leaves a half file where the app would look for it. A download
killed outright (SIGKILL) cannot remove its hidden temporary file; the next download does
(``atomic.remove_stale_temps``: its writer is gone, or it is an hour old).
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from playground import paths, settings
from playground.core import atomic
from playground.errors import Cancelled, DownloadError

TINY_SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
TINY_SHAKESPEARE_BYTES = 1115394
FILENAME = "tinyshakespeare.txt"
CHUNK = 64 * 1024
MAX_BYTES = 20 * 1024 * 1024  # a wrong URL must not fill the disk
WHAT = "Tiny Shakespeare"

Progress = Callable[[int, "int | None"], None]


class EventLike(Protocol):
    def is_set(self) -> bool: ...


def downloads_dir() -> Path:
    path = paths.cache_dir() / "downloads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def target_path() -> Path:
    return paths.cache_dir() / "downloads" / FILENAME


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cached_tiny_shakespeare() -> Path | None:
    """The cached file if it is there and verifies, else None (never touches the network)."""
    path = target_path()
    try:
        if path.is_file() and _sha256_file(path) == TINY_SHAKESPEARE_SHA256:
            return path
    except OSError:
        pass
    return None


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _offline_error(url: str, reason: object) -> DownloadError:
    return DownloadError(
        f"Could not download {WHAT}: no connection to {_host(url)} ({reason}).",
        "Check your internet connection and try again, or load your own text file instead.")


def download_file(url: str, target: Path, sha256: str, *, progress: Progress | None = None,
                  cancel: EventLike | None = None, timeout: float = 10.0, what: str = WHAT) -> Path:
    """Stream ``url`` into ``target`` (atomically), checking ``sha256``.

    ``progress(done_bytes, total_bytes_or_None)`` is called after every chunk; ``cancel`` is
    polled before every chunk (raises Cancelled). ``timeout`` bounds every network wait.
    """
    atomic.remove_stale_temps(target.parent, target.name)  # left by a download that was killed
    with atomic.atomic_path(target) as tmp, open(tmp, "wb") as out:
        _stream(url, out, sha256, progress, cancel, timeout, what)
    return target


def _stream(url: str, out, sha256: str, progress: Progress | None, cancel: EventLike | None,
            timeout: float, what: str) -> None:
    """Write the response body to ``out``, or raise DownloadError/Cancelled (the caller discards it)."""
    digest = hashlib.sha256()
    done, total, connected = 0, None, False
    try:
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"Download of {what} cancelled.")
        with urllib.request.urlopen(url, timeout=timeout) as response:
            connected = True
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if progress is not None:
                progress(0, total)
            # read1: whatever has arrived (up to CHUNK), so progress and cancel
            # stay responsive on a slow line instead of waiting for a full chunk.
            read = getattr(response, "read1", response.read)
            while True:
                if cancel is not None and cancel.is_set():
                    raise Cancelled(f"Download of {what} cancelled.")
                chunk = read(CHUNK)
                if not chunk:
                    break
                done += len(chunk)
                if done > MAX_BYTES:
                    raise DownloadError(
                        f"Could not download {what}: {_host(url)} sent more than "
                        f"{MAX_BYTES // 2**20} MB, which is not the expected file.",
                        "Check the download address in the settings.")
                digest.update(chunk)
                out.write(chunk)
                if progress is not None:
                    progress(done, total)
    except urllib.error.HTTPError as e:
        raise DownloadError(
            f"Could not download {what}: {_host(url)} answered {e.code} {e.reason}.",
            "Check the download address in the settings, or try again later.") from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            reason = f"no answer within {timeout:g} s"
        raise _offline_error(url, reason) from None
    except TimeoutError:
        if not connected:
            raise _offline_error(url, f"no answer within {timeout:g} s") from None
        raise DownloadError(
            f"Could not download {what}: {_host(url)} stopped answering "
            f"(no data for {timeout:g} s, after {done} bytes).",
            "Check your internet connection and try again.") from None
    except (http.client.HTTPException, ConnectionError, OSError) as e:
        raise DownloadError(
            f"Could not download {what}: the connection to {_host(url)} broke after "
            f"{done} bytes ({type(e).__name__}).",
            "Try again; check your internet connection if it keeps happening.") from None
    except ValueError:
        raise DownloadError(f"Could not download {what}: {url!r} is not a web address.",
                            "Check the download address in the settings.") from None
    if total is not None and done != total:
        raise DownloadError(
            f"Could not download {what}: the connection to {_host(url)} was dropped "
            f"after {done} of {total} bytes.", "Try again.")
    if digest.hexdigest() != sha256:
        raise DownloadError(
            f"The downloaded file is not the expected {what} (its checksum does not match).",
            "The address may point to a different file: check it in the settings, "
            "or try again later.")


def download_tiny_shakespeare(url: str | None = None, progress: Progress | None = None,
                              cancel: EventLike | None = None, timeout: float = 10.0) -> Path:
    """The cached Tiny Shakespeare, downloading it first when needed.

    ``url`` defaults to the ``tiny_shakespeare_url`` setting. Raises DownloadError (offline,
    HTTP error, dropped connection, wrong checksum) or Cancelled; never leaves a half file.
    """
    cached = cached_tiny_shakespeare()
    if cached is not None:
        atomic.remove_stale_temps(cached.parent, cached.name)  # a killed second download's leftover
        if progress is not None:
            size = cached.stat().st_size
            progress(size, size)
        return cached
    if url is None:
        url = settings.get("tiny_shakespeare_url")
    return download_file(url, target_path(), TINY_SHAKESPEARE_SHA256, progress=progress,
                         cancel=cancel, timeout=timeout)


def load_tiny_shakespeare(url: str | None = None, progress: Progress | None = None,
                          cancel: EventLike | None = None, timeout: float = 10.0):
    """Tiny Shakespeare as a Corpus (downloaded first if it is not cached yet)."""
    from playground.core.corpus import load_file

    corpus = load_file(download_tiny_shakespeare(url, progress, cancel, timeout))
    corpus.name = WHAT
    corpus.description = ("40,000 lines of Shakespeare's plays (1.1 MB), the classic corpus of "
                          "Karpathy's char-rnn and nanoGPT.")
    return corpus
