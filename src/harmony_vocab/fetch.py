"""Download a pinned vocab file: verified while streaming, renamed into place only once verified.

Shared by the build hook and the run-time download tier. `requests` is imported only when a
download actually starts (install ``harmony-vocab[download]`` for run-time downloads).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, Tuple

from .errors import Attempt, FetchError, MissingExtraError, format_attempts
from .locations import ENV_BASE_URL, ENV_OFFLINE, env_flag
from .pins import Pin

if TYPE_CHECKING:  # pragma: no cover
    import requests

Progress = Callable[[int, int], None]

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
TRIES = 3
BACKOFF = 0.5
_CHUNK = 1 << 16


class _Failure(Exception):
    def __init__(self, reason: str, retry: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


def download_urls(pin: Pin, base_url: Optional[str] = None) -> List[str]:
    """The URLs to try for `pin`, in order: the mirror (`base_url`, else $HARMONY_VOCAB_BASE_URL)
    joined with the file name, then the manifest's URLs, canonical first."""
    mirror = base_url if base_url is not None else os.environ.get(ENV_BASE_URL, "")
    urls: List[str] = []
    if mirror:
        # requests speaks only http(s): a file:// mirror would fail every try (use
        # HARMONY_VOCAB_SOURCE_DIR for a local directory)
        if not re.match(r"^https?://[^/\s]+", mirror):
            raise FetchError(
                f"{ENV_BASE_URL}={mirror!r} is not a URL: expected http(s)://host/path/ "
                f"(the directory that holds {pin.file}); for a local directory use HARMONY_VOCAB_SOURCE_DIR"
            )
        urls.append(mirror.rstrip("/") + "/" + pin.file)
    urls.extend(u for u in pin.urls if u not in urls)
    return urls


def download(
    pin: Pin,
    dest_dir: "os.PathLike[str] | str",
    urls: Optional[Sequence[str]] = None,
    *,
    connect_timeout: Optional[float] = None,
    read_timeout: Optional[float] = None,
    tries: Optional[int] = None,
    backoff: Optional[float] = None,
    progress: Optional[Progress] = None,
) -> Path:
    """Download `pin` into ``dest_dir/<pin.file>`` and return that path.

    Each URL is tried in order, each up to `tries` times (with exponential back-off) on errors
    that may pass (connection errors, time-outs, 5xx, a body cut short). The body is hashed while
    it streams into a temporary file in `dest_dir`, never read past the pinned size, and renamed
    into place only once its size and sha256 match. On failure nothing is left behind and
    `FetchError` lists every URL tried and why it failed. With ``HARMONY_VOCAB_OFFLINE=1`` it
    raises `FetchError` at once, before any socket is opened.

    Options left at None take the module's CONNECT_TIMEOUT, READ_TIMEOUT, TRIES and BACKOFF, read
    when the call is made (so the build hook's downloads can be tuned by setting them).
    """
    connect_timeout = CONNECT_TIMEOUT if connect_timeout is None else connect_timeout
    read_timeout = READ_TIMEOUT if read_timeout is None else read_timeout
    tries = max(1, TRIES if tries is None else tries)
    backoff = BACKOFF if backoff is None else backoff
    if env_flag(ENV_OFFLINE, False):
        raise FetchError(f"not downloading {pin.file}: {ENV_OFFLINE}=1 forbids every download "
                         f"(unset it, or take the file from a local mirror)")
    requests = _import_requests()
    urls = list(urls) if urls is not None else download_urls(pin)
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    attempts: List[Attempt] = []
    timeout = (connect_timeout, read_timeout)
    with requests.Session() as session:
        session.headers["User-Agent"] = "harmony-vocab"
        for url in urls:
            for attempt in range(1, tries + 1):
                try:
                    path = _download_once(session, url, pin, dest, timeout, progress)
                except _Failure as failure:
                    # "try 1 of 3" only where a retry was possible: a 404 or a hash mismatch
                    # is final, and saying "1 of 3" would suggest two more tries were made
                    retried = tries > 1 and (failure.retry or attempt > 1)
                    suffix = f" (try {attempt} of {tries})" if retried else ""
                    attempts.append(Attempt("download", url, failure.reason + suffix))
                    if not failure.retry or attempt == tries:
                        break
                    time.sleep(backoff * 2 ** (attempt - 1))
                else:
                    attempts.append(Attempt("download", url, "downloaded and verified", ok=True))
                    return path
    raise FetchError(
        f"could not download a verified {pin.file} (sha256 {pin.sha256}, {pin.size} bytes). "
        f"URLs tried, in order:\n{format_attempts(attempts)}",
        attempts,
    )


def _download_once(
    session: "requests.Session",
    url: str,
    pin: Pin,
    dest: Path,
    timeout: Tuple[float, float],
    progress: Optional[Progress],
) -> Path:
    import requests

    fd, part = tempfile.mkstemp(prefix=f".{pin.file}.", suffix=".part", dir=dest)
    try:
        with os.fdopen(fd, "wb") as out:
            received, actual = _stream(session, url, pin, out, timeout, progress)
            out.flush()
            os.fsync(out.fileno())
        if received != pin.size:
            raise _Failure(f"body ended after {received} of {pin.size} bytes", retry=True)
        if actual != pin.sha256:
            raise _Failure(f"sha256 mismatch: expected {pin.sha256}, got {actual}", retry=False)
        final = dest / pin.file
        os.chmod(part, 0o644)
        os.replace(part, final)
        return final
    except requests.exceptions.RequestException as exc:
        raise _Failure(_describe(exc, timeout), retry=True) from None
    finally:
        if os.path.exists(part):
            os.unlink(part)


def _stream(
    session: "requests.Session",
    url: str,
    pin: Pin,
    out: Any,
    timeout: Tuple[float, float],
    progress: Optional[Progress],
) -> Tuple[int, str]:
    with session.get(url, stream=True, timeout=timeout) as response:
        status = response.status_code
        if status != 200:
            retry = status >= 500 or status in (408, 429)
            raise _Failure(f"HTTP {status} {response.reason}".rstrip(), retry=retry)
        announced = response.headers.get("Content-Length", "")
        if announced.isdigit() and int(announced) > pin.size:
            raise _Failure(
                f"server announces {announced} bytes, more than the pinned {pin.size}: refused",
                retry=False,
            )
        digest = hashlib.sha256()
        received = 0
        for chunk in response.iter_content(_CHUNK):
            received += len(chunk)
            if received > pin.size:
                raise _Failure(
                    f"body larger than the pinned {pin.size} bytes: stopped at {received}",
                    retry=False,
                )
            out.write(chunk)
            digest.update(chunk)
            if progress is not None:
                progress(received, pin.size)
        return received, digest.hexdigest()


def _describe(exc: BaseException, timeout: Tuple[float, float]) -> str:
    import requests

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"connect timed out after {timeout[0]:g}s"
    if isinstance(exc, (requests.exceptions.ReadTimeout,)) or "Read timed out" in str(exc):
        return f"read timed out after {timeout[1]:g}s"
    text = str(exc)
    errno_text = re.search(r"\[Errno -?\d+\] [^'\")\]]+", text)
    if errno_text:
        return f"{type(exc).__name__}: {errno_text.group(0)}"
    if "IncompleteRead" in text or "Connection broken" in text:
        return f"connection broken mid-body ({type(exc).__name__})"
    return f"{type(exc).__name__}: {text[:200]}"


def _import_requests() -> Any:
    try:
        import requests
    except ImportError:
        raise MissingExtraError("requests", "download", "downloading vocab files") from None
    return requests
