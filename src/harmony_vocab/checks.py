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
    from .pins import PINS

    base = os.path.basename(path)
    for pin in PINS.values():
        if base in (pin.file, pin.name, pin.cache_key):
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
    from .pins import get_pin
    from .tokenizer_json import rebuilt_copy

    reasons = []
    for name in names:
        rebuilt = rebuilt_copy(path, get_pin(name))
        if rebuilt.path is not None:
            return Check(tier, name, str(path), "ok", f"rebuilds into the pinned {name} vocab")
        reason = str(rebuilt.rejection)
        reasons.append((name, reason[len(f"{path}: "):] if reason.startswith(f"{path}: ") else reason))
    if len({reason for _, reason in reasons}) == 1:  # not about one vocab: said once
        return Check(tier, None, str(path), "failed", reasons[0][1])
    detail = "; ".join(f"{name}: {reason}" for name, reason in reasons)
    return Check(tier, None, str(path), "failed", detail or "no vocab to compare with")


def check_dir(tier: Optional[str], directory: Path, names: Sequence[str], *, model: bool) -> List[Check]:
    """Every vocab file in `directory` given on the command line (and, for a model directory,
    its encodings/, tokenizer/, original/), under its own name or the name caches give it; a
    directory holding none fails."""
    from .locations import MODEL_SUBDIRS
    from .pins import get_pin

    dirs = [directory / sub if sub else directory for sub in (MODEL_SUBDIRS if model else ("",))]
    checks = []
    for d in dirs:
        for name in names:
            pin = get_pin(name)
            for file in (pin.file, pin.cache_key):
                if os.path.lexists(d / file):
                    checks.append(check(tier, name, d / file))
    if checks:
        return checks
    if model:
        for d in dirs:
            if os.path.lexists(d / "tokenizer.json"):
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
    """Check every place of the lookup order that is set, for each vocab in `names`: the same
    places, in the same order, as `resolve` looks at (``_harmony_vocab_lookup.places``).

    A place that is set but fails is "failed" where resolve would warn or raise (explicit,
    environment, model) and where it is the package's own copy; a cache that is empty is
    "absent"."""
    from _harmony_vocab_lookup import QUIET, places

    from .bundled import bundled_dir
    from .pins import get_pin

    checks: List[Check] = []
    for name in names:
        for place in places(name, os.environ, package_dir=str(bundled_dir()), pin=get_pin(name).as_dict()):
            if place.kind == "download":
                continue
            if place.path is None:
                if place.on_failure != QUIET:
                    checks.append(Check(place.tier, name, place.label, "failed", place.outcome))
                continue
            if place.kind == "tokenizer.json":
                checks.append(check_tokenizer_json(place.tier, Path(place.path), [name]))
                continue
            required = place.on_failure != QUIET or place.tier == "package"
            checks.append(check(place.tier, name, place.path, absent_ok=not required))
    return checks
