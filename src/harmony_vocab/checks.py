"""Checks of files and directories against the pins, as `harmony-vocab verify`, `env` and
`doctor` report them: one `Check` per file looked at, never an exception."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

@dataclass
class Check:
    """One file (or directory) checked by ``verify``."""

    tier: Optional[str]
    name: Optional[str]
    path: str
    status: str  # "ok", "failed", "absent"
    detail: str

    def as_dict(self) -> Dict[str, Any]:
        return {"tier": self.tier, "name": self.name, "path": self.path, "status": self.status,
                "detail": self.detail}


def check(tier: Optional[str], name: str, path: "os.PathLike[str] | str", *, absent_ok: bool = False) -> Check:
    """Check one file against the pin of `name` (with `absent_ok`, a missing file is "absent")."""
    from .errors import VocabError
    from .integrity import check_file, describe_failure
    from .pins import get_pin

    pin = get_pin(name)
    if absent_ok and not os.path.lexists(path):
        return Check(tier, name, os.fspath(path), "absent", "not present")
    try:
        check_file(path, pin)
    except (VocabError, OSError) as exc:
        return Check(tier, name, os.fspath(path), "failed", describe_failure(exc))
    return Check(tier, name, os.fspath(path), "ok", f"sha256 {pin.sha256}, {pin.size} bytes")


def identify(path: str) -> Optional[str]:
    """The vocab a file is meant to be, from its name: ``<name>.tiktoken`` or the sha1 of the
    canonical URL (the name in tiktoken's and openai-harmony's caches)."""
    from .locations import url_cache_name
    from .pins import PINS

    base = os.path.basename(path)
    for pin in PINS.values():
        if base in (pin.file, pin.name, url_cache_name(pin.canonical_url)):
            return pin.name
    return None


def identify_by_size(path: str, names: Sequence[str]) -> Optional[str]:
    from .pins import get_pin

    try:
        size = os.stat(path).st_size
    except OSError:
        return None
    matches = [n for n in names if get_pin(n).size == size]
    return matches[0] if len(matches) == 1 else None


def check_tokenizer_json(tier: Optional[str], path: Path, names: Sequence[str]) -> Check:
    from .bundled import bundled_dir
    from .errors import VocabError
    from .pins import get_pin
    from .tokenizer_json import rebuild

    reasons = []
    for name in names:
        pin = get_pin(name)
        reference = bundled_dir() / pin.file
        try:
            rebuild(path, pin, reference=reference if reference.is_file() else None)
        except (VocabError, OSError, ValueError) as exc:
            reasons.append(f"{name}: {exc}")
        else:
            return Check(tier, name, str(path), "ok", f"rebuilds into the pinned {name} vocab")
    return Check(tier, None, str(path), "failed", "; ".join(reasons) or "no vocab to compare with")


def check_dir(tier: Optional[str], directory: Path, names: Sequence[str], *, model: bool) -> List[Check]:
    """Every vocab file in `directory` (and, for a model directory, its encodings/, tokenizer/,
    original/); a directory holding none fails."""
    from .locations import url_cache_name
    from .modeldir import SUBDIRS
    from .pins import get_pin

    dirs = [directory / sub if sub else directory for sub in (SUBDIRS if model else ("",))]
    checks = []
    for d in dirs:
        for name in names:
            pin = get_pin(name)
            for file in (pin.file, url_cache_name(pin.canonical_url)):
                if os.path.lexists(d / file):
                    checks.append(check(tier, name, d / file))
    if checks:
        return checks
    if model:
        for d in dirs:
            if (d / "tokenizer.json").is_file():
                return [check_tokenizer_json(tier, d / "tokenizer.json", names)]
    if not directory.is_dir():
        return [Check(tier, None, str(directory), "failed", "missing directory")]
    expected = " or ".join(get_pin(n).file for n in names)
    where = " (here or in encodings/, tokenizer/, original/)" if model else ""
    return [Check(tier, None, str(directory), "failed", f"holds no vocab file: expected {expected}{where}")]


def check_given(path_text: str, names: Sequence[str], explicit_name: Optional[str]) -> List[Check]:
    from .pins import VOCABS

    path = Path(path_text)
    if path.is_dir():
        return check_dir(None, path, names, model=True)
    if not os.path.lexists(path):
        return [Check(None, explicit_name or identify(path_text), path_text, "failed", "missing")]
    if path.name == "tokenizer.json" and explicit_name is None:
        return [check_tokenizer_json(None, path, names)]
    name = explicit_name or identify(path_text) or identify_by_size(path_text, VOCABS)
    if name is None:
        from .pins import get_pin

        sizes = ", ".join(f"{n}: {get_pin(n).size} bytes" for n in VOCABS)
        try:
            size = f"{os.stat(path).st_size} bytes"
        except OSError as exc:
            size = f"unreadable: {exc.strerror}"
        return [Check(None, None, path_text, "failed",
                      f"{size} matches no pinned vocab ({sizes}); name it <vocab>.tiktoken or pass --name")]
    return [check(None, name, path)]


def tier_checks(names: Sequence[str]) -> List[Check]:
    """Check every tier that is set: the bundled files, HARMONY_VOCAB_<NAME> and
    TIKTOKEN_ENCODINGS_BASE (unless our registration set it), the model directory, the caches."""
    from . import locations as loc
    from .bundled import bundled_dir
    from .modeldir import search_roots
    from .pins import get_pin
    from .resolution import registered_by_us

    checks: List[Check] = []
    for name in names:
        checks.append(check("package", name, bundled_dir() / get_pin(name).file))
    for name in names:
        value = os.environ.get(loc.file_env_var(name))
        if value:
            checks.append(check("environment", name, value))
    base = os.environ.get(loc.TIKTOKEN_ENCODINGS_BASE)
    if base and registered_by_us() is None:
        checks.extend(check_dir("environment", Path(base), names, model=False))
    model_dir = os.environ.get(loc.ENV_MODEL_DIR)
    if model_dir:
        roots, how = search_roots(model_dir)
        if not roots:
            checks.append(Check("model", None, model_dir, "failed", how))
        for root in roots:
            checks.extend(check_dir("model", root, names, model=True))
    for name in names:
        pin = get_pin(name)
        url_name = loc.url_cache_name(pin.canonical_url)
        checks.append(check("cache", name, loc.cache_dir() / pin.file, absent_ok=True))
        checks.append(check("cache", name, loc.harmony_cache_dir() / url_name, absent_ok=True))
        tiktoken_dir = loc.tiktoken_cache_dir()
        if tiktoken_dir is not None:
            checks.append(check("cache", name, tiktoken_dir / url_name, absent_ok=True))
    return checks
