"""`resolve`: walk the lookup order (``tiers.places``) and verify every candidate against its pin."""

import os
import sys
import warnings

from .errors import Attempt, FetchError, MissingExtraError, VocabError, VocabIntegrityError, VocabNotFoundError
from .errors import VocabWarning
from .files import check_file, describe_failure, forget_verified
from .pins import WHEELS, Pin, get_pin
from .tiers import (ENV_ALLOW_DOWNLOAD, ENV_BASE_URL, ENV_CACHE_DIR, ENV_MODEL_DIR, ENV_OFFLINE, NO_CACHE_DIR, STRICT,
    TIKTOKEN_ENCODINGS_BASE, WARN, Place, bundled_dir, cache_dir, data_dir, file_env_var, flag, not_installed, places)

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path
    from typing import List, Optional, Tuple, Union

    PathArg = Union[str, "os.PathLike[str]", None]


class Resolution:
    """Where a verified vocab was found: `path` (its first file; `paths`, all of them), its
    `tier`, and every place looked at (`attempts`)."""

    __slots__ = ("name", "strings", "tier", "attempts")

    def __init__(self, name: str, strings: "Tuple[str, ...]", tier: str, attempts: "Tuple[Attempt, ...]") -> None:
        self.name, self.strings, self.tier, self.attempts = name, strings, tier, attempts

    @property
    def paths(self) -> "Tuple[Path, ...]":
        """The verified files, one per file of the vocab (`strings`: the same, as str)."""
        from pathlib import Path

        return tuple(Path(p) for p in self.strings)

    @property
    def path(self) -> "Path":
        return self.paths[0]

    def __repr__(self) -> str:
        return f"Resolution({self.name!r}, {str(self.path)!r}, tier={self.tier!r})"


def reset() -> None:
    """Forget what this process verified or rebuilt: every file is checked afresh (for tests,
    or after replacing files in place)."""
    from .tokenizer_json import forget_rejected

    forget_verified()
    forget_rejected()


def bundled_path(name: str) -> "Path":
    """The path of the packaged copy of vocab `name` (its first file), in the wheel that ships it.
    Not hashed here: `verify_file` or `resolve` does that."""
    pin = get_pin(name)
    return bundled_dir(pin.wheel) / pin.file


def resolve(name: str, *, vocab_path: "PathArg" = None, vocab_dir: "PathArg" = None,
            model_dir: "PathArg" = None, download: "Optional[bool]" = None) -> Resolution:
    """Find a verified copy of vocab `name`, walking the lookup order (README: "The lookup order").

    explicit (`vocab_path` / `vocab_dir`: a failure raises) > environment > model directory
    (`model_dir`) > the installed wheels > caches > a download, only when `download` is true
    (default: ``HARMONY_VOCAB_ALLOW_DOWNLOAD``). Every candidate is checked against the pin; an
    empty value counts as not given. Raises `UnknownVocabError`, `VocabIntegrityError` (an explicit
    file that fails its pin) or `VocabNotFoundError` (`.attempts` lists every place tried).
    """
    pin = get_pin(name)
    if vocab_path and vocab_dir:
        raise VocabError("give vocab_path or vocab_dir, not both")
    attempts: "List[Attempt]" = []
    for place in places(pin, os.environ, vocab_path=vocab_path, vocab_dir=vocab_dir, model_dir=model_dir):
        found = _try(pin, place, download, attempts)
        if found is not None:
            return Resolution(pin.name, found, place.tier, tuple(attempts))
    raise VocabNotFoundError(pin.name, attempts, advice(pin))


def _try(pin: Pin, place: Place, download: "Optional[bool]", attempts: "List[Attempt]") -> "Optional[Tuple[str, ...]]":
    """Check one place, as its kind and `on_failure` say: the verified paths, or None."""
    if place.kind == "download":
        return _download(pin, download, attempts)
    if place.paths is None:
        attempts.append(Attempt(place.tier, place.label, place.outcome))
        if place.on_failure == STRICT:
            raise VocabNotFoundError(pin.name, attempts, f"{place.outcome}.")
        if place.on_failure == WARN:
            warnings.warn(f"harmony-vocab: {place.label}: {place.outcome}", VocabWarning, stacklevel=3)
        return None
    if place.kind == "tokenizer.json":
        from .tokenizer_json import rebuilt_copy

        path, outcome = rebuilt_copy(place.paths[0], pin, cache_dir(os.environ))
        if path is None:
            attempts.append(Attempt(place.tier, place.label, f"rebuilt vocab rejected: {outcome}"))
            warnings.warn(f"harmony-vocab: {outcome}", VocabWarning, stacklevel=3)
            return None
        place = Place(place.tier, f"{place.label} ({outcome})", (path,), on_failure=WARN)
    paths: "Tuple[str, ...]" = place.paths or ()
    checked = ""
    try:
        for checked, f in zip(paths, pin.files):
            check_file(checked, f)
    except (VocabError, OSError) as exc:
        reason = describe_failure(exc)
        if len(paths) > 1:  # say which of the vocab's files failed
            reason = f"{os.path.basename(checked)}: {reason}"
        attempts.append(Attempt(place.tier, place.label, reason))
        if place.optional and isinstance(exc, FileNotFoundError):
            return None
        if place.on_failure == STRICT:
            if isinstance(exc, VocabIntegrityError):
                exc.attempts = tuple(attempts)
                raise
            raise VocabNotFoundError(pin.name, attempts, f"The explicit choice must be {_wanted(pin)}: fix the "
                                     f"path, or leave it out to use the lookup order.") from None
        if place.on_failure == WARN:
            warnings.warn(f"harmony-vocab: ignoring {place.label} for {pin.name}: {reason}", VocabWarning, stacklevel=3)
        return None
    attempts.append(Attempt(place.tier, place.label, "verified", ok=True))
    return paths


def _download(pin: Pin, download: "Optional[bool]", attempts: "List[Attempt]") -> "Optional[Tuple[str, ...]]":
    from .download import OFFLINE_REFUSAL, download_urls
    from .download import download as fetch

    try:
        urls = [download_urls(f) for f in pin.files]
    except FetchError as exc:
        attempts.append(Attempt("download", ENV_BASE_URL, str(exc)))
        return None
    label, dest = ", ".join(u[0] for u in urls), cache_dir(os.environ)
    allowed = download if download is not None else flag(os.environ, ENV_ALLOW_DOWNLOAD, False)
    refusal = (OFFLINE_REFUSAL if flag(os.environ, ENV_OFFLINE, False) else
               f"not allowed (offline is the default; download=True or {ENV_ALLOW_DOWNLOAD}=1 allows it)"
               if not allowed else NO_CACHE_DIR if dest is None else None)
    if refusal or dest is None:
        attempts.append(Attempt("download", label, refusal or NO_CACHE_DIR))
        return None
    try:
        paths = tuple(os.fspath(fetch(f, dest, u)) for f, u in zip(pin.files, urls))
    except (FetchError, MissingExtraError) as exc:
        attempts.extend(getattr(exc, "attempts", ()) or [Attempt("download", label, str(exc))])
        return None
    except OSError as exc:
        attempts.append(Attempt("download", dest, f"cannot write the cache: {describe_failure(exc)}"))
        return None
    attempts.append(Attempt("download", label, f"downloaded and verified into {dest}", ok=True))
    return paths


def _wanted(pin: Pin) -> str:
    return " and ".join(f"a readable {f.name} (sha256 {f.sha256}, {f.size} bytes)" for f in pin.files)


FREEZER_DATA_OPTIONS = {
    "PyInstaller": "rebuild it with harmony-vocab installed where PyInstaller runs (its hooks collect the files)",
    "cx_Freeze": "rebuild it with harmony_vocab on the file system, not in library.zip "
                 "(--zip-exclude-packages=harmony_vocab)",
    "Nuitka": "rebuild it with --include-package-data=harmony_vocab",
}
"""How to get the vocab files into an app built by each freezer (tests/test_freezers.py)."""


def freezer() -> "Optional[str]":
    """The freezer that built this app ("PyInstaller", "cx_Freeze", "Nuitka"), or None."""
    compiled = globals().get("__compiled__")  # set by Nuitka in every module it compiles
    if compiled is not None:
        return "Nuitka" if getattr(compiled, "standalone", False) or getattr(compiled, "onefile", False) else None
    if not getattr(sys, "frozen", False):
        return None
    return "PyInstaller" if hasattr(sys, "_MEIPASS") else "cx_Freeze"


def restore_advice(pin: Pin) -> str:
    """How to get the packaged files of `pin` back, for the way this process runs."""
    built_by = freezer()
    if built_by:
        return f"this app was frozen by {built_by} without the vocab files: {FREEZER_DATA_OPTIONS[built_by]}"
    if pin.wheel != "core" and data_dir(pin.wheel) is None:
        return not_installed(pin.wheel)
    dist = WHEELS[pin.wheel]["distribution"]
    return f"reinstall {dist} from a wheel that bundles the vocab files (pip install --force-reinstall {dist})"


def advice(pin: Pin) -> str:
    """What to do when no place holds a verified copy of `pin`."""
    where = ("a directory holding them" if len(pin.files) > 1
             else f"{_wanted(pin)}, or {TIKTOKEN_ENCODINGS_BASE} to a directory holding it")
    return (f"To fix, do one of:\n  - {restore_advice(pin)};\n  - set {file_env_var(pin.name)} to {where};\n"
            f"  - set {ENV_MODEL_DIR} to a model directory holding {' and '.join(f.name for f in pin.files)};\n"
            f"  - allow a download: {ENV_ALLOW_DOWNLOAD}=1 (needs network access, or {ENV_BASE_URL} "
            f"pointing at an internal mirror).")
