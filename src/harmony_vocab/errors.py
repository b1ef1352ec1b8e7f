"""Exceptions, the record of one place looked at (`Attempt`), and `redact` for what is shown."""

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Iterable, Optional, Sequence, Tuple

PROG = "harmony-vocab"
"""The command's name, as its messages start."""

# Everything between "scheme://" and the last "@" before the next URL (or the line's end): the
# user-info, parsed as a browser would not, so that a password holding a raw "#", "/", "?" or a
# space is hidden whole. Over-hiding is the safe side.
_USERINFO = r"([A-Za-z][A-Za-z0-9+.-]*://)((?:(?!://)[^\n])*)@"
_SECRET_VARS = ("HARMONY_VOCAB_BASE_URL", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                "ALL_PROXY", "all_proxy")


def redact(text: str) -> str:
    """`text` with every URL's credentials (``https://user:secret@host/``) shown as ``***``, and
    any piece of the credentials of a mirror or proxy variable (which a library's message may quote
    without its URL) hidden too: every URL harmony-vocab prints or records goes through here."""
    if "@" not in text and not any(os.environ.get(var) for var in _SECRET_VARS):
        return text
    import re

    text = re.sub(_USERINFO, lambda m: m.group(1) + "***@", text)
    for var in _SECRET_VARS:
        value = os.environ.get(var) or ""
        userinfo = (value.partition("://")[2] or value).rpartition("@")[0]
        for piece in sorted({p for p in re.split(r"[:#/?@\s]+", userinfo) if len(p) >= 2}, key=len, reverse=True):
            text = text.replace(piece, "***")
    return text


class Attempt:
    """One place looked at for a vocab, and what was found there (a download's URLs and reasons
    with their credentials redacted: no other tier names a URL)."""

    __slots__ = ("tier", "place", "outcome", "ok")

    def __init__(self, tier: str, place: str, outcome: str, ok: bool = False) -> None:
        if tier == "download":
            place, outcome = redact(place), redact(outcome)
        self.tier, self.place, self.outcome, self.ok = tier, place, outcome, ok

    def __repr__(self) -> str:
        return f"Attempt({self.tier!r}, {self.place!r}, {self.outcome!r}, ok={self.ok})"

    def __str__(self) -> str:
        return f"[{self.tier}] {self.place}: {self.outcome}"


def format_attempts(attempts: "Iterable[Attempt]") -> str:
    """One numbered line per attempt, in order."""
    return "\n".join(f"  {i}. {a}" for i, a in enumerate(attempts, 1))


class VocabError(Exception):
    """Base class of every error harmony-vocab raises on purpose."""


class VocabWarning(UserWarning):
    """A setting that points at something unusable; the lookup went on (filter it as any warning)."""


class PathError(VocabError, OSError):
    """A path that cannot be used as it is (not a regular file, too large, a file in the way...);
    ``str()`` is one line naming it."""

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


class UnknownVocabError(VocabError, ValueError):
    """A vocab name that is not one of the pinned ones; the message lists the known ones."""

    def __init__(self, name: object, known: "Sequence[str]") -> None:
        self.name = name
        super().__init__(f"unknown vocab name {name!r}: expected one of {', '.join(known)}")


class NotShippedError(VocabError, ValueError):
    """A tiktoken encoding built on a vocab that no installed harmony-vocab wheel ships."""


class VocabIntegrityError(VocabError, ValueError):
    """A file that is not the pinned vocab file: wrong size or wrong sha256 (`reason`: the mismatch,
    with expected and actual values)."""

    def __init__(self, path: str, name: str, expected_size: int, actual_size: int,
                 expected_sha256: str, actual_sha256: "Optional[str]") -> None:
        self.path, self.name = path, name
        self.expected_size, self.actual_size = expected_size, actual_size
        self.expected_sha256, self.actual_sha256 = expected_sha256, actual_sha256
        self.attempts: "Tuple[Attempt, ...]" = ()  # filled in by resolve() for an explicit choice
        self.reason = (f"size mismatch: expected {expected_size} bytes, got {actual_size}"
                       if actual_size != expected_size
                       else f"sha256 mismatch: expected {expected_sha256}, got {actual_sha256}")
        super().__init__(f"{path} is not the pinned {name} vocab: {self.reason}")


class VocabNotFoundError(VocabError, FileNotFoundError):
    """No place in the lookup order held a verified copy; `.attempts` lists them all."""

    def __init__(self, name: str, attempts: "Sequence[Attempt]", advice: str) -> None:
        self.name, self.attempts, self.advice = name, tuple(attempts), advice
        super().__init__(f"no verified copy of the {name} vocab found. Places tried, in order:\n"
                         f"{format_attempts(self.attempts)}\n{advice}")


class FetchError(VocabError, OSError):
    """A download that did not yield a verified file; `.attempts` lists each URL tried."""

    def __init__(self, message: str, attempts: "Sequence[Attempt]" = ()) -> None:
        self.attempts = tuple(attempts)
        super().__init__(redact(message))


class MissingExtraError(VocabError, ImportError):
    """An optional dependency that a feature needs is not installed."""

    def __init__(self, module: str, extra: str, feature: str) -> None:
        super().__init__(f"{feature} needs the '{module}' package, which is not installed: "
                         f"pip install 'harmony-vocab[{extra}]'")
