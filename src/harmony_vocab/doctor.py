"""`harmony-vocab doctor`: what is installed, the start-up registration, each vocab's source."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Dict, Optional

from .checks import check

PROG = "harmony-vocab"


def _version_of(distribution: str) -> Optional[str]:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _unmodified_status(directory: Optional[Path], file: str, name: str, variable: str) -> Dict[str, Any]:
    """Whether an unmodified openai-harmony / tiktoken would find vocab `name` offline."""
    if directory is None:
        return {"status": "network", "path": None, "detail": f"{variable} disabled: would download"}
    found = check(None, name, directory / file, absent_ok=True)
    if found.status == "ok":
        return {"status": "offline", "path": found.path, "detail": f"verified file via {variable}"}
    if found.status == "absent":
        return {"status": "network", "path": found.path, "detail": f"not in {variable}: would download"}
    return {"status": "broken", "path": found.path, "detail": found.detail}


def doctor_report(pth_ran: bool) -> Dict[str, Any]:
    """The data `doctor` shows (see JSON_SHAPES["doctor"])."""
    import platform
    import warnings

    import harmony_vocab

    from . import locations as loc
    from .bundled import bundled_dir
    from .errors import VocabError, VocabNotFoundError, redact_url
    from .pins import VOCABS, get_pin
    from .resolution import registered_by_us, resolve

    from _harmony_vocab_startup import registration_enabled, startup_directory

    package_dir = Path(harmony_vocab.__file__).resolve().parent
    pth = package_dir.parent / "harmony_vocab.pth"
    autoregister = os.environ.get(loc.ENV_AUTOREGISTER)
    registered = registered_by_us()
    selection = startup_directory(os.environ)
    try:
        allowed: Optional[bool] = loc.env_flag(loc.ENV_ALLOW_DOWNLOAD, False) and not loc.env_flag(loc.ENV_OFFLINE, False)
    except VocabError:
        allowed = None
    base = os.environ.get(loc.TIKTOKEN_ENCODINGS_BASE)
    vocabs: Dict[str, Any] = {}
    for name in VOCABS:
        pin = get_pin(name)
        entry: Dict[str, Any] = {"ok": False, "tier": None, "path": None, "network_needed": True,
                                 "error": None, "warnings": []}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                found = resolve(name, download=False)
            except VocabNotFoundError as exc:
                entry["error"] = (f"no verified copy found in {len(exc.attempts)} places "
                                  f"(see '{PROG} resolve {name}')")
            except (VocabError, OSError) as exc:
                entry["error"] = str(exc)
            else:
                entry.update(ok=True, tier=found.tier, path=os.path.abspath(found.path), network_needed=False)
        entry["warnings"] = [str(w.message) for w in caught]
        url_name = loc.url_cache_name(pin.canonical_url)
        if base:
            entry["openai_harmony"] = _unmodified_status(Path(base), pin.file, name, loc.TIKTOKEN_ENCODINGS_BASE)
        else:
            entry["openai_harmony"] = _unmodified_status(loc.harmony_cache_dir(), url_name, name,
                                                         "openai-harmony's cache")
        entry["tiktoken"] = _unmodified_status(loc.tiktoken_cache_dir(), url_name, name, "tiktoken's cache")
        vocabs[name] = entry
    return {
        "harmony_vocab": {"version": harmony_vocab.__version__, "location": str(package_dir),
                          "bundled_dir": str(bundled_dir())},
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "packages": {d: _version_of(d) for d in ("openai-harmony", "tiktoken", "requests")},
        "registration": {
            "pth_installed": pth.is_file(),
            "pth_path": str(pth) if pth.is_file() else None,
            "ran_at_startup": pth_ran,
            "autoregister": autoregister,
            "enabled": registration_enabled(os.environ),
            "tiktoken_encodings_base": base,
            "set_by_registration": registered is not None,
            "registered_tier": registered[0] if registered else None,
            "startup_selection": {"tier": selection[0], "directory": selection[1]} if selection else None,
        },
        "download": {"allowed": allowed, "base_url": redact_url(os.environ.get(loc.ENV_BASE_URL) or "") or None,
                     "cache_dir": str(loc.cache_dir())},
        "vocabs": vocabs,
    }


def format_doctor(report: Dict[str, Any]) -> str:
    hv, py, pk, reg, dl = (report[k] for k in ("harmony_vocab", "python", "packages", "registration", "download"))
    lines = [
        f"harmony-vocab {hv['version']} at {hv['location']}",
        f"Python {py['version']} ({py['executable']})",
        "installed: " + ", ".join(f"{d} {v or 'not installed'}" for d, v in pk.items()),
        "start-up registration: "
        + (f".pth installed ({reg['pth_path']})" if reg["pth_installed"] else ".pth not installed")
        + (", ran at start-up" if reg["ran_at_startup"] else ", did not run in this process")
        + f"; HARMONY_VOCAB_AUTOREGISTER={reg['autoregister'] if reg['autoregister'] is not None else '(unset)'}"
        + (" (enabled)" if reg["enabled"] else " (disabled)"),
    ]
    if reg["tiktoken_encodings_base"]:
        how = (f"set by harmony-vocab's registration, {reg['registered_tier']} tier"
               if reg["set_by_registration"] else "set by the environment")
        lines.append(f"TIKTOKEN_ENCODINGS_BASE={reg['tiktoken_encodings_base']} ({how})")
    else:
        lines.append("TIKTOKEN_ENCODINGS_BASE is not set: openai-harmony uses its cache or downloads")
    allowed = {True: "allowed", False: "not allowed (offline)",
               None: "invalid HARMONY_VOCAB_ALLOW_DOWNLOAD or HARMONY_VOCAB_OFFLINE"}[dl["allowed"]]
    lines.append(f"downloads: {allowed}; mirror: {dl['base_url'] or 'none'}; cache: {dl['cache_dir']}")
    lines.append("vocabs:")
    for name, v in report["vocabs"].items():
        if v["ok"]:
            lines.append(f"  {name:<12} {v['tier']:<11} {v['path']} (no network needed)")
        else:
            lines.append(f"  {name:<12} NOT FOUND   {v['error']}; network needed: {PROG} fetch --name {name}")
        for warning in v["warnings"]:
            lines.append(f"  {'':<12} warning: {warning}")
        unmodified = []
        for key, dist in (("openai_harmony", "openai-harmony"), ("tiktoken", "tiktoken")):
            installed = "" if pk.get(dist) else " (not installed)"
            unmodified.append(f"{dist}{installed}: {v[key]['status']} ({v[key]['detail']})")
        lines.append(f"  {'':<12} unmodified " + "; ".join(unmodified))
    return "\n".join(lines) + "\n"
