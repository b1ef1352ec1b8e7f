"""The lookup order: explicit > environment > model directory > package > cache / download."""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Tuple, Union

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
from .modeldir import candidate_dirs, search_roots
from .pins import Pin, get_pin

PathArg = Union[str, "os.PathLike[str]", None]

TIERS = ("explicit", "environment", "model", "package", "cache", "download")


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
    ``HARMONY_VOCAB_ALLOW_DOWNLOAD``). Every candidate is checked against the pin.

    Raises `UnknownVocabError`, `VocabIntegrityError` (an explicit file that fails its pin) or
    `VocabNotFoundError` (nothing matched; `.attempts` lists every place tried, in order).
    """
    pin = get_pin(name)
    run = _Lookup(pin)
    found = (
        _explicit(run, vocab_path, vocab_dir)
        or _environment(run)
        or _model(run, model_dir)
        or run.try_file("package", bundled_dir() / pin.file)
        or _cache(run)
        or _download(run, download)
    )
    if found is None:
        raise VocabNotFoundError(pin.name, run.attempts, _advice(pin))
    return found


def _explicit(run: _Lookup, vocab_path: PathArg, vocab_dir: PathArg) -> Optional[Resolution]:
    if vocab_path is not None and vocab_dir is not None:
        raise VocabError("give vocab_path or vocab_dir, not both")
    if vocab_path is not None:
        return run.try_file("explicit", Path(vocab_path), strict=True, place=f"vocab_path={os.fspath(vocab_path)}")
    if vocab_dir is not None:
        path = Path(vocab_dir) / run.pin.file
        return run.try_file("explicit", path, strict=True, place=f"vocab_dir: {path}")
    run.note("explicit", "vocab_path / vocab_dir", "not given")
    return None


def _environment(run: _Lookup) -> Optional[Resolution]:
    var = loc.file_env_var(run.pin.name)
    value = os.environ.get(var)
    if value:
        found = run.try_file("environment", Path(value), warn=True, place=f"{var}={value}")
        if found:
            return found
    else:
        run.note("environment", var, "not set")
    base = os.environ.get(loc.TIKTOKEN_ENCODINGS_BASE)
    registered = registered_by_us()
    if not base:
        run.note("environment", loc.TIKTOKEN_ENCODINGS_BASE, "not set")
    elif registered and registered[1] == base:
        run.note("environment", f"{loc.TIKTOKEN_ENCODINGS_BASE}={base}",
                 f"set by harmony-vocab's registration ({registered[0]} tier): looked at there")
    else:
        path = Path(base) / run.pin.file
        return run.try_file("environment", path, warn=True,
                            place=f"{loc.TIKTOKEN_ENCODINGS_BASE}: {path}")
    return None


def _model(run: _Lookup, model_dir: PathArg) -> Optional[Resolution]:
    source = "model_dir" if model_dir is not None else loc.ENV_MODEL_DIR
    if model_dir is None:
        model_dir = os.environ.get(loc.ENV_MODEL_DIR) or None
    if model_dir is None:
        run.note("model", "model_dir / HARMONY_VOCAB_MODEL_DIR", "not set")
        return None
    roots, how = search_roots(model_dir)
    if not roots:
        run.note("model", f"{source}={os.fspath(model_dir)}", how)
        warnings.warn(f"harmony-vocab: {source}={os.fspath(model_dir)}: {how}", VocabWarning, stacklevel=3)
        return None
    dirs = candidate_dirs(roots)
    vocab_files = [d / run.pin.file for d in dirs if os.path.lexists(d / run.pin.file)]
    for directory in dirs:
        path = directory / run.pin.file
        if path in vocab_files:
            found = run.try_file("model", path, warn=True)  # a failure is warned about
            if found:
                return found
        else:
            run.note("model", str(path), "missing")
    tokenizers = [d / "tokenizer.json" for d in dirs if (d / "tokenizer.json").is_file()]
    for tokenizer in tokenizers:
        found = _from_tokenizer_json(run, tokenizer)  # a rejection is warned about
        if found:
            return found
    if tokenizers:
        return None
    run.note("model", f"{os.fspath(model_dir)}/**/tokenizer.json", "none found")
    if vocab_files:
        return None
    warnings.warn(f"harmony-vocab: {source}={os.fspath(model_dir)} holds neither {run.pin.file} nor a "
                  f"tokenizer.json (looked in ./, encodings/, tokenizer/, original/)", VocabWarning, stacklevel=3)
    return None


def _from_tokenizer_json(run: _Lookup, tokenizer: Path) -> Optional[Resolution]:
    """Rebuild from tokenizer.json once; the verified result is kept in our cache, keyed by the
    tokenizer.json's path, size and mtime, so later processes only re-verify it."""
    from .storage import process_temp_dir, write_atomic
    from .tokenizer_json import TokenizerJsonError, rebuild

    st = tokenizer.stat()
    key = hashlib.sha256(f"{tokenizer.resolve()}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:24]
    kept = loc.cache_dir() / "from-tokenizer-json" / key / run.pin.file
    place = f"{tokenizer} (rebuilt copy {kept})"
    if kept.is_file():
        found = run.try_file("model", kept, place=place)
        if found:
            return found
    try:
        data = rebuild(tokenizer, run.pin, reference=_verified_reference(run.pin))
    except (TokenizerJsonError, OSError) as exc:
        run.note("model", str(tokenizer), f"rebuilt vocab rejected: {exc}")
        warnings.warn(f"harmony-vocab: {exc}", VocabWarning, stacklevel=4)
        return None
    try:
        write_atomic(kept, data)
    except OSError as exc:  # a read-only cache: keep it for this process only
        run.note("model", str(kept), f"cannot keep the rebuilt copy here: {describe_failure(exc)}")
        kept = process_temp_dir() / run.pin.file
        write_atomic(kept, data)
        place = f"{tokenizer} (rebuilt copy {kept}, for this process only)"
    return run.try_file("model", kept, place=place)


def _verified_reference(pin: Pin) -> Optional[Path]:
    """The bundled copy, if it verifies: only then may a mismatch be quoted against it."""
    path = bundled_dir() / pin.file
    try:
        check_file(path, pin)
    except (VocabError, OSError):
        return None
    return path


def _cache(run: _Lookup) -> Optional[Resolution]:
    pin = run.pin
    ours = loc.cache_dir() / pin.file
    url_name = loc.url_cache_name(pin.canonical_url)
    candidates = [
        ("cache", ours, f"{ours}"),
        ("cache", loc.harmony_cache_dir() / url_name, None),
    ]
    tiktoken_dir = loc.tiktoken_cache_dir()
    if tiktoken_dir is not None:
        candidates.append(("cache", tiktoken_dir / url_name, None))
    else:
        run.note("cache", "tiktoken cache", "disabled (TIKTOKEN_CACHE_DIR is empty)")
    for tier, path, place in candidates:
        found = run.try_file(tier, path, place=place)
        if found:
            return found
    return None


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
        path = fetch(run.pin, loc.cache_dir(), urls)
    except MissingExtraError as exc:
        run.note("download", ", ".join(urls), str(exc))
        return None
    except FetchError as exc:
        run.attempts.extend(exc.attempts)
        return None
    except OSError as exc:
        run.note("download", str(loc.cache_dir()), f"cannot write the cache: {describe_failure(exc)}")
        return None
    run.attempts.append(Attempt("download", urls[0], f"downloaded and verified into {path}", ok=True))
    return Resolution(run.pin.name, path, "download", tuple(run.attempts))


def registered_by_us() -> Optional[Tuple[str, str]]:
    """``(tier, directory)`` if TIKTOKEN_ENCODINGS_BASE was set by harmony-vocab's registration."""
    marker = os.environ.get(loc.ENV_REGISTERED, "")
    tier, sep, directory = marker.partition(":")
    if sep and os.environ.get(loc.TIKTOKEN_ENCODINGS_BASE) == directory:
        return tier, directory
    return None


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
