"""Exceptions, and the record of one place looked at (`Attempt`)."""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Tuple

# The user-info of a URL: what stands between "//" and the host's "@" (up to the last "@" before
# the path, since passwords with a bare "@" are common), or, in a value with no scheme, a leading
# "user:password@".
_USERINFO = re.compile(r"(//)[^\s/?#]*@|^()[^\s/?#@:]+:[^\s/?#]*@")


def redact_url(text: str) -> str:
    """`text` with the credentials of every URL in it (``http://user:secret@host/``) replaced by
    ``***``: every URL harmony-vocab prints or records goes through here."""
    return _USERINFO.sub(lambda m: (m.group(1) or "") + "***@", text)


@dataclass(frozen=True)
class Attempt:
    """One place looked at for a vocab, and what was found there (credentials in URLs redacted)."""

    tier: str
    place: str
    outcome: str
    ok: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "place", redact_url(self.place))
        object.__setattr__(self, "outcome", redact_url(self.outcome))

    def __str__(self) -> str:
        return f"[{self.tier}] {self.place}: {self.outcome}"


def format_attempts(attempts: Iterable[Attempt]) -> str:
    """One numbered line per attempt, in order."""
    return "\n".join(f"  {i}. {a}" for i, a in enumerate(attempts, 1))


class VocabError(Exception):
    """Base class of every error harmony-vocab raises on purpose."""


class NotRegularFileError(VocabError, OSError):
    """A path to read that is not a regular file (a FIFO, a device, a socket): refused unread."""

    def __init__(self, path: str, kind: str) -> None:
        self.kind = kind
        super().__init__(errno.EINVAL, f"is {kind}, expected a regular file", path)

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


class FileTooLargeError(VocabError, OSError):
    """A file to read that is larger than what it may be; refused unread."""

    def __init__(self, path: str, size: int, limit: int, what: str) -> None:
        self.size = size
        self.limit = limit
        super().__init__(errno.EFBIG, f"{size} bytes, more than the {limit} bytes {what} may be", path)

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


class FileInTheWayError(VocabError, NotADirectoryError):
    """A file where a directory is to be created (to write into it)."""

    def __init__(self, path: str) -> None:
        super().__init__(errno.ENOTDIR, "is a file, not a directory: remove it, or choose another directory",
                         path)

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


class UnknownVocabError(VocabError, ValueError):
    """A vocab name that is not one of the pinned ones."""

    def __init__(self, name: object, known: Sequence[str]) -> None:
        self.name = name
        self.known = tuple(known)
        super().__init__(
            f"unknown vocab name {name!r}: expected one of {', '.join(self.known)}"
        )


class NotShippedError(VocabError, ValueError):
    """A tiktoken encoding built on a vocab that harmony-vocab does not ship."""


class VocabIntegrityError(VocabError, ValueError):
    """A file that is not the pinned vocab: wrong size or wrong sha256."""

    def __init__(
        self,
        path: str,
        name: str,
        expected_size: int,
        actual_size: int,
        expected_sha256: str,
        actual_sha256: Optional[str],
    ) -> None:
        self.path = path
        self.name = name
        self.expected_size = expected_size
        self.actual_size = actual_size
        self.expected_sha256 = expected_sha256
        self.actual_sha256 = actual_sha256
        self.attempts: Tuple[Attempt, ...] = ()  # filled in by resolve() for an explicit choice
        super().__init__(f"{path} is not the pinned {name} vocab: {self.reason}")

    @property
    def reason(self) -> str:
        """The mismatch, with expected and actual values."""
        if self.actual_size != self.expected_size:
            return f"size mismatch: expected {self.expected_size} bytes, got {self.actual_size}"
        return f"sha256 mismatch: expected {self.expected_sha256}, got {self.actual_sha256}"


class VocabNotFoundError(VocabError, FileNotFoundError):
    """No place in the lookup order held a verified copy; `.attempts` lists them all."""

    def __init__(self, name: str, attempts: Sequence[Attempt], advice: str) -> None:
        self.name = name
        self.attempts: Tuple[Attempt, ...] = tuple(attempts)
        self.advice = advice
        message = f"no verified copy of the {name} vocab found. Places tried, in order:\n"
        message += format_attempts(self.attempts) + "\n" + advice
        super().__init__(message)

    def __str__(self) -> str:  # FileNotFoundError would otherwise format errno/filename
        return str(self.args[0])


class FetchError(VocabError, OSError):
    """A download that did not yield a verified file; `.attempts` lists each URL tried."""

    def __init__(self, message: str, attempts: Sequence[Attempt] = ()) -> None:
        self.attempts: Tuple[Attempt, ...] = tuple(attempts)
        super().__init__(redact_url(message))

    def __str__(self) -> str:
        return str(self.args[0])


class MissingExtraError(VocabError, ImportError):
    """An optional dependency that a feature needs is not installed."""

    def __init__(self, module: str, extra: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs the '{module}' package, which is not installed: "
            f"pip install 'harmony-vocab[{extra}]'"
        )
