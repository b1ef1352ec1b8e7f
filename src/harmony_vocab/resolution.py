"""The lookup order: explicit > environment > model directory > package > cache / download."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple, Union

from _harmony_vocab_lookup import STRICT, TIERS, WARN, Place, places
from _harmony_vocab_lookup import registered_by_us as _registered_by_us

from . import locations as loc
from .bundled import bundled_dir
from .errors import (
    Attempt,
    FetchError,
    MissingExtraError,
    VocabError,
    VocabIntegrityError,
    VocabNotFoundError,
)
from .integrity import check_file, describe_failure
from .pins import Pin, get_pin

PathArg = Union[str, "os.PathLike[str]", None]

__all__ = ["TIERS", "Resolution", "VocabWarning", "resolve", "registered_by_us"]


class VocabWarning(RuntimeWarning):
    """An environment or model-directory candidate that was set but failed; the lookup went on."""


@dataclass(frozen=True)
class Resolution:
    """Where a verified vocab was found: `path`, its `tier`, and every place looked at."""

    name: str
    path: Path
    tier: str
    attempts: Tuple[Attempt, ...] = field(repr=False)

    @property
    def directory(self) -> Path:
        """The directory holding the file."""
        return self.path.parent


class _Lookup:
    """One run of the lookup order for one pin; collects the attempts."""

    def __init__(self, pin: Pin) -> None:
        self.pin = pin
        self.attempts: List[Attempt] = []

    def note(self, tier: str, place: str, outcome: str) -> None:
        self.attempts.append(Attempt(tier, place, outcome))

    def try_file(self, tier: str, path: Path, *, strict: bool = False, warn: bool = False,
                 place: Optional[str] = None) -> Optional[Resolution]:
        """Check one candidate; return a Resolution if it verifies, else record why and return None
        (or raise, when `strict`)."""
        place = place or str(path)
        try:
            check_file(path, self.pin)
        except (VocabError, OSError) as exc:
            reason = describe_failure(exc)
            self.note(tier, place, reason)
            if strict:
                if isinstance(exc, VocabIntegrityError):
                    exc.attempts = tuple(self.attempts)
                if isinstance(exc, VocabError):
                    raise
                raise VocabNotFoundError(self.pin.name, self.attempts, _explicit_advice(self.pin)) from None
            if warn:
                warnings.warn(f"harmony-vocab: ignoring {place} for {self.pin.name}: {reason}",
                              VocabWarning, stacklevel=4)
            return None
        self.attempts.append(Attempt(tier, place, "verified", ok=True))
        return Resolution(self.pin.name, path, tier, tuple(self.attempts))


def resolve(
    name: str,
    *,
    vocab_path: PathArg = None,
    vocab_dir: PathArg = None,
    model_dir: PathArg = None,
    download: Optional[bool] = None,
) -> Resolution:
    """Find a verified copy of vocab `name` (``"o200k_base"`` or ``"cl100k_base"``).

    Tiers, first verified match wins: `vocab_path` / `vocab_dir` (explicit: a failure raises);
    ``HARMONY_VOCAB_<NAME>`` then ``TIKTOKEN_ENCODINGS_BASE`` (environment); `model_dir` or
    ``HARMONY_VOCAB_MODEL_DIR`` (model directory or Hugging Face repo id, ``tokenizer.json``
    rebuilt if needed); the files bundled in the package; our cache, openai-harmony's and
    tiktoken's caches; a download only when `download` is true (default:
    ``HARMONY_VOCAB_ALLOW_DOWNLOAD``). Every candidate is checked against the pin. An empty
    value, as a parameter or a variable, counts as not given.

    Raises `UnknownVocabError`, `VocabIntegrityError` (an explicit file that fails its pin) or
    `VocabNotFoundError` (nothing matched; `.attempts` lists every place tried, in order).
    """
    pin = get_pin(name)
    if vocab_path and vocab_dir:
        raise VocabError("give vocab_path or vocab_dir, not both")
    run = _Lookup(pin)
    for place in places(pin.name, os.environ, vocab_path=vocab_path, vocab_dir=vocab_dir,
                        model_dir=model_dir, package_dir=str(bundled_dir()), pin=pin.as_dict()):
        found = _try(run, place, download)
        if found is not None:
            return found
    raise VocabNotFoundError(pin.name, run.attempts, _advice(pin))


def _try(run: _Lookup, place: Place, download: Optional[bool]) -> Optional[Resolution]:
    """Check one place of the lookup order, as its kind and `on_failure` say."""
    if place.kind == "download":
        return _download(run, download)
    if place.path is None:
        run.note(place.tier, place.label, place.outcome)
        if place.on_failure == WARN:
            warnings.warn(f"harmony-vocab: {place.label}: {place.outcome}", VocabWarning, stacklevel=3)
        return None
    if place.kind == "tokenizer.json":
        return _from_tokenizer_json(run, Path(place.path))
    return run.try_file(place.tier, Path(place.path), strict=place.on_failure == STRICT,
                        warn=place.on_failure == WARN, place=place.label)


def _from_tokenizer_json(run: _Lookup, tokenizer: Path) -> Optional[Resolution]:
    """The vocab rebuilt from tokenizer.json: kept, and a rejection remembered, by
    `tokenizer_json.rebuilt_copy`; a rejection is warned about once a process."""
    from .tokenizer_json import rebuilt_copy

    rebuilt = rebuilt_copy(tokenizer, run.pin)
    for place, outcome in rebuilt.notes:
        run.note("model", place, outcome)
    if rebuilt.path is None:
        run.note("model", rebuilt.place, f"rebuilt vocab rejected: {rebuilt.rejection}")
        if rebuilt.new:
            warnings.warn(f"harmony-vocab: {rebuilt.rejection}", VocabWarning, stacklevel=4)
        return None
    return run.try_file("model", rebuilt.path, place=rebuilt.place)


def _download(run: _Lookup, download: Optional[bool]) -> Optional[Resolution]:
    from .fetch import download_urls, offline_attempt

    allowed = download if download is not None else loc.env_flag(loc.ENV_ALLOW_DOWNLOAD, False)
    try:
        urls = download_urls(run.pin)
    except FetchError as exc:
        run.note("download", loc.ENV_BASE_URL, str(exc))
        return None
    if loc.env_flag(loc.ENV_OFFLINE, False):
        run.attempts.append(offline_attempt(urls))
        return None
    if not allowed:
        run.note("download", ", ".join(urls),
                 "not allowed (offline is the default; download=True or HARMONY_VOCAB_ALLOW_DOWNLOAD=1 allows it)")
        return None
    from .fetch import download as fetch

    try:
        dest = loc.cache_dir()
    except VocabError as exc:
        run.note("download", ", ".join(urls), str(exc))
        return None
    try:
        path = fetch(run.pin, dest, urls)
    except MissingExtraError as exc:
        run.note("download", ", ".join(urls), str(exc))
        return None
    except FetchError as exc:
        run.attempts.extend(exc.attempts)
        return None
    except OSError as exc:
        run.note("download", str(dest), f"cannot write the cache: {describe_failure(exc)}")
        return None
    run.attempts.append(Attempt("download", urls[0], f"downloaded and verified into {path}", ok=True))
    return Resolution(run.pin.name, path, "download", tuple(run.attempts))


def registered_by_us() -> Optional[Tuple[str, str]]:
    """``(tier, directory)`` if TIKTOKEN_ENCODINGS_BASE was set by harmony-vocab's registration."""
    return _registered_by_us(os.environ)


def _explicit_advice(pin: Pin) -> str:
    return (f"The explicit choice must be a readable {pin.file} (sha256 {pin.sha256}, "
            f"{pin.size} bytes): fix the path, or leave it out to use the lookup order.")


def _advice(pin: Pin) -> str:
    from .situation import restore_advice

    var = loc.file_env_var(pin.name)
    return (
        "To fix, do one of:\n"
        f"  - {restore_advice()};\n"
        f"  - set {var} to a verified {pin.file} (sha256 {pin.sha256}, {pin.size} bytes), or "
        f"{loc.TIKTOKEN_ENCODINGS_BASE} to a directory holding one;\n"
        f"  - set {loc.ENV_MODEL_DIR} to a model directory holding {pin.file} or its tokenizer.json;\n"
        f"  - allow a download: {loc.ENV_ALLOW_DOWNLOAD}=1 (needs network access, or "
        f"{loc.ENV_BASE_URL} pointing at an internal mirror)."
    )
