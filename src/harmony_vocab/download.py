"""Download a pinned file: verified while streaming, renamed into place only once verified.

Shared by the build hook and the run-time download tier. `requests` is imported only when a
download starts (install ``harmony-vocab[download]`` for run-time downloads).
"""

import hashlib
import os
import re
import socket
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any, BinaryIO, Callable, List, Optional, Sequence, Tuple

from .errors import Attempt, FetchError, MissingExtraError, format_attempts, redact
from .files import Directory
from .pins import File
from .tiers import (ENV_BASE_URL, ENV_DOWNLOAD_DEADLINE, ENV_MODEL_DIR, ENV_OFFLINE, TIKTOKEN_ENCODINGS_BASE,
    file_env_var, flag, seconds)

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
TRIES = 3
BACKOFF = 0.5
# The most time one file may take, every URL and try included (HARMONY_VOCAB_DOWNLOAD_DEADLINE):
# o200k_base (3.6 MB) needs a link of 6 KB/s to make it.
DEADLINE = 600.0

# What a download attempt says when HARMONY_VOCAB_OFFLINE is set: at run time, in `fetch` and in
# the build hook alike.
OFFLINE_REFUSAL = f"not allowed: {ENV_OFFLINE}=1 forbids every download"


class _Failure(Exception):
    def __init__(self, reason: str, retry: bool = False) -> None:
        super().__init__(reason)
        self.retry = retry


def download_urls(f: File, base_url: Optional[str] = None, *, local_advice: Optional[str] = None) -> List[str]:
    """The URLs to try for `f`, in order: the mirror (`base_url`, else $HARMONY_VOCAB_BASE_URL)
    joined with the file name, then the pinned URLs, canonical first. A mirror that is not an
    http(s) URL raises `FetchError`, ending with `local_advice` (default: the run-time settings)."""
    mirror = base_url if base_url is not None else os.environ.get(ENV_BASE_URL, "")
    # requests speaks only http(s): a file:// mirror or a path would fail every try
    if mirror and not re.match(r"^https?://[^/\s]+", mirror, re.IGNORECASE):
        advice = local_advice or (f"for files on a local disk, set {file_env_var(f.vocab)}, "
                                  f"{TIKTOKEN_ENCODINGS_BASE} or {ENV_MODEL_DIR}")
        # no scheme: what comes before an "@" in the first path segment is a user-info too
        shown = redact(mirror) if "://" in mirror else re.sub(r"^[^/]*@", "***@", mirror)
        raise FetchError(f"{ENV_BASE_URL}={shown!r} is not an http(s) URL: expected "
                         f"http(s)://host/path/ (the directory that holds {f.name}); {advice}")
    urls = [mirror.rstrip("/") + "/" + f.name] if mirror else []
    urls.extend(u for u in f.urls if u not in urls)
    return urls


def download(f: File, dest_dir: "os.PathLike[str] | str", urls: Optional[Sequence[str]] = None, *,
             progress: Optional[Callable[[int, int], None]] = None) -> Path:
    """Download `f` into ``dest_dir/<f.name>`` and return that path.

    Each URL is tried in order, each up to `TRIES` times (with exponential back-off from `BACKOFF`
    seconds) on errors that may pass (connection errors, time-outs, 5xx, a body cut short), all
    within ``$HARMONY_VOCAB_DOWNLOAD_DEADLINE`` (else `DEADLINE`) seconds: a server that trickles
    bytes is cut off then. The body is hashed while it streams into a temporary file in
    `dest_dir` (`files.Directory`), never read past the pinned size, and renamed into place only
    once its size and sha256 match. On failure nothing is left behind and `FetchError` lists every
    URL tried and why it failed. With ``HARMONY_VOCAB_OFFLINE=1`` it raises `FetchError` at once,
    before any socket is opened.

    The module's `CONNECT_TIMEOUT`, `READ_TIMEOUT`, `TRIES` and `BACKOFF` are read when the call is
    made: setting them tunes every later download (the tests do).
    """
    timeouts, tries = (CONNECT_TIMEOUT, READ_TIMEOUT), max(1, TRIES)
    deadline = seconds(os.environ, ENV_DOWNLOAD_DEADLINE, DEADLINE)
    urls = list(urls) if urls is not None else download_urls(f)
    if flag(os.environ, ENV_OFFLINE, False):
        raise FetchError(f"not downloading {f.name}: {OFFLINE_REFUSAL}",
                         [Attempt("download", ", ".join(urls), OFFLINE_REFUSAL)])
    try:
        import requests
    except ImportError:
        raise MissingExtraError("requests", "download", "downloading vocab files") from None
    attempts: List[Attempt] = []
    ends = time.monotonic() + deadline
    passed = f"the download deadline of {deadline:g}s ({ENV_DOWNLOAD_DEADLINE}) had passed"
    with requests.Session() as session, Directory(dest_dir) as directory:
        for url in urls:
            for attempt in range(1, tries + 1):
                if time.monotonic() >= ends:
                    attempts.append(Attempt("download", url, f"not tried{' again' if attempt > 1 else ''}: {passed}"))
                    break
                try:
                    directory.write_all([(f.name, lambda out: _download_once(
                        out, session, url, f, timeouts, ends, passed, progress))])
                    return Path(dest_dir) / f.name
                except _Failure as failure:
                    # "try 1 of 3" only where a retry was possible: a 404 or a hash mismatch
                    # is final, and saying "1 of 3" would suggest two more tries were made
                    suffix = f" (try {attempt} of {tries})" if tries > 1 and (failure.retry or attempt > 1) else ""
                    attempts.append(Attempt("download", url, f"{failure}{suffix}"))
                    if not failure.retry or attempt == tries:
                        break
                    time.sleep(min(BACKOFF * 2 ** (attempt - 1), max(0.0, ends - time.monotonic())))
    raise FetchError(f"could not download a verified {f.name} (sha256 {f.sha256}, {f.size} bytes). "
                     f"URLs tried, in order:\n{format_attempts(attempts)}", attempts)


def _download_once(out: BinaryIO, session: Any, url: str, f: File, timeouts: Tuple[float, float], ends: float,
                   passed: str, progress: Optional[Callable[[int, int], None]]) -> None:
    """One try of `url`: its body streamed into `out`, hashed and capped at the pinned size. When the
    deadline comes (`ends`, a `time.monotonic()` value; `passed` says so), a timer shuts the connection
    down: a read blocked on a server that trickles bytes returns then, where the per-read time-out would
    never fire (each byte restarts it, and a read waits for a whole chunk)."""
    from requests.exceptions import ConnectTimeout, ReadTimeout, RequestException, Timeout

    left = max(0.001, ends - time.monotonic())
    timeout = (min(timeouts[0], left), min(timeouts[1], left))
    received, digest = 0, hashlib.sha256()
    cut = threading.Event()  # set when the deadline cut the connection
    try:
        with session.get(url, stream=True, timeout=timeout, headers={"User-Agent": "harmony-vocab"}) as response:
            status = response.status_code
            if status != 200:
                raise _Failure(f"HTTP {status} {response.reason}".rstrip(), retry=status >= 500 or status in (408, 429))
            announced = response.headers.get("Content-Length", "")
            if announced.isdigit() and int(announced) > f.size:
                raise _Failure(f"server announces {announced} bytes, more than the pinned {f.size}: refused")

            def cut_off() -> None:
                # HTTPResponse.shutdown() (urllib3 2.3+) shuts the socket down. Where it is missing or fails
                # (an older urllib3; TLS through an https:// proxy), a duplicate of its descriptor is shut
                # down: the same socket still, whatever the response does with its own descriptor meanwhile.
                cut.set()
                try:
                    response.raw.shutdown()
                except Exception:
                    # past the body's end (the connection released or closed) there is nothing left to cut
                    with suppress(AttributeError, OSError, ValueError):
                        with socket.socket(fileno=os.dup(response.raw.fileno())) as sock:
                            sock.shutdown(socket.SHUT_RDWR)

            timer = threading.Timer(max(0.0, ends - time.monotonic()), cut_off)
            timer.daemon = True
            timer.start()
            try:
                for chunk in response.iter_content(1 << 16):  # 64 KiB pieces
                    received += len(chunk)
                    if received > f.size:
                        raise _Failure(f"body larger than the pinned {f.size} bytes: stopped at {received}")
                    out.write(chunk)
                    digest.update(chunk)
                    if progress is not None:
                        progress(received, f.size)
                    if time.monotonic() >= ends:
                        raise _Failure("deadline")  # reworded below
            finally:
                timer.cancel()
                timer.join()
        if received != f.size:
            raise _Failure(f"body ended after {received} of {f.size} bytes", retry=True)
        if digest.hexdigest() != f.sha256:
            raise _Failure(f"sha256 mismatch: expected {f.sha256}, got {digest.hexdigest()}")
    except (_Failure, RequestException, ValueError) as exc:  # UnicodeError is a ValueError
        # a time-out shortened to the time left is the deadline too
        shortened = isinstance(exc, Timeout) and left < timeouts[0 if isinstance(exc, ConnectTimeout) else 1]
        if cut.is_set() or shortened or time.monotonic() >= ends:
            raise _Failure(f"stopped after {received} of {f.size} bytes: {passed}") from None
        if isinstance(exc, _Failure):
            raise
        text, kind = str(exc), type(exc).__name__
        if isinstance(exc, ConnectTimeout):
            reason = f"connect timed out after {timeouts[0]:g}s"
        elif isinstance(exc, ReadTimeout) or "Read timed out" in text:
            reason = f"read timed out after {timeouts[1]:g}s"
        elif errno_text := re.search(r"\[Errno -?\d+\] [^'\")\]]+", text):
            reason = f"{kind}: {errno_text.group(0)}"
        elif "IncompleteRead" in text or "Connection broken" in text:
            reason = f"connection broken mid-body ({kind})"
        else:
            reason = f"{kind}: {text[:200]}"
        # an invalid URL, schema or header (a ValueError, as requests raises them) is final
        raise _Failure(reason, retry=not isinstance(exc, ValueError)) from None
