"""`harmony-vocab doctor`: what is installed, the start-up registration, each vocab's source."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from .checks import check

from .console import PROG

OK_STATUSES = ("offline", "not installed", "not used")
"""What an unmodified openai-harmony or tiktoken may be predicted to do in a healthy setup."""


def _version_of(distribution: str) -> Optional[str]:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _status(status: str, path: "Optional[str | os.PathLike[str]]", detail: str) -> Dict[str, Any]:
    return {"status": status, "path": None if path is None else os.fspath(path), "detail": detail}


def _cached(name: str, directory: Optional[Path], who: str) -> Dict[str, Any]:
    """What a download cache of `who` holds for vocab `name`: offline when verified."""
    from .pins import get_pin

    if directory is None:
        return _status("network", None, f"{who}'s cache is disabled: would download")
    found = check(None, name, directory / get_pin(name).cache_key, absent_ok=True)
    if found.status == "ok":
        return _status("offline", found.path, f"verified copy in {who}'s cache")
    if found.status == "absent":
        return _status("network", found.path, f"not in {who}'s cache: would download")
    return _status("network", found.path, f"{who}'s cached copy fails its pin ({found.detail}): would download")


def predict_openai_harmony(name: str) -> Dict[str, Any]:
    """What an unmodified openai-harmony, started with this environment, does for vocab `name`:
    it reads ``TIKTOKEN_ENCODINGS_BASE`` alone when that is set (empty: the current directory),
    else its cache, else downloads."""
    from . import locations as loc
    from .pins import get_pin

    base = os.environ.get(loc.TIKTOKEN_ENCODINGS_BASE)
    if base is None:
        return _cached(name, loc.harmony_cache_dir(), "openai-harmony")
    found = check(None, name, Path(base or ".").absolute() / get_pin(name).file, absent_ok=True)
    if found.status == "ok":
        return _status("offline", found.path, f"verified file via {loc.TIKTOKEN_ENCODINGS_BASE}")
    detail = "missing" if found.status == "absent" else found.detail
    return _status("broken", found.path, f"{detail}: openai-harmony reads only {loc.TIKTOKEN_ENCODINGS_BASE} "
                                         f"and fails; fix or unset it")


def tiktoken_hook_state() -> Tuple[bool, str]:
    """Whether an unmodified tiktoken started like this process is served by our start-up hook:
    the finder is installed, and it could wrap this tiktoken's ``tiktoken.load`` (imported here,
    through the finder, as any program would)."""
    from _harmony_vocab_startup import TiktokenFinder

    if not any(isinstance(f, TiktokenFinder) for f in sys.meta_path):
        return False, "harmony-vocab's start-up hook is not installed in this process"
    try:
        import tiktoken.load
    except Exception as exc:  # broken tiktoken: its own problem, reported as not served
        return False, f"tiktoken.load cannot be imported ({type(exc).__name__})"
    if not getattr(tiktoken.load.load_tiktoken_bpe, "__harmony_vocab__", False):
        return False, (f"this tiktoken ({_version_of('tiktoken')}) reads its vocabs in a way harmony-vocab's "
                       f"start-up hook does not know (tiktoken >= 0.7.0 is), or tiktoken.load was imported first")
    return True, "active"


def tiktoken_defines(name: str) -> bool:
    """Whether the installed tiktoken defines the encoding of vocab `name` (tiktoken 0.5 has no
    o200k_base, for one), as ``tiktoken.get_encoding`` finds it."""
    try:
        from tiktoken_ext import openai_public
    except Exception:  # a broken tiktoken: let the prediction say what its cache would do
        return True
    return name in getattr(openai_public, "ENCODING_CONSTRUCTORS", {name: None})


def predict_tiktoken(name: str, hook_active: bool, resolved: Optional[Tuple[str, str]]) -> Dict[str, Any]:
    """What an unmodified ``tiktoken.get_encoding`` does for vocab `name`: served by our start-up
    hook (when active and the lookup order has a verified copy), else by its cache, else a
    download."""
    from . import locations as loc

    if not tiktoken_defines(name):
        return _status("not used", None, f"tiktoken {_version_of('tiktoken')} has no encoding on {name}")
    if hook_active and resolved is not None:
        return _status("offline", resolved[1], f"served by harmony-vocab's start-up hook ({resolved[0]} tier)")
    cached = _cached(name, loc.tiktoken_cache_dir(), "tiktoken")
    if not hook_active and cached["status"] != "offline":
        cached["detail"] += " (harmony-vocab's start-up hook is not active)"
    return cached


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
    from .situation import situation

    from _harmony_vocab_startup import registration_enabled

    from .harmony import HARMONY_ENCODING_VOCABS

    package_dir = Path(harmony_vocab.__file__).resolve().parent
    pth = package_dir.parent / "harmony_vocab.pth"
    autoregister = os.environ.get(loc.ENV_AUTOREGISTER)
    registered = registered_by_us()
    packages_tiktoken = _version_of("tiktoken")
    hook_active, hook_detail = tiktoken_hook_state() if packages_tiktoken else (False, "tiktoken is not installed")
    try:
        allowed: Optional[bool] = loc.env_flag(loc.ENV_ALLOW_DOWNLOAD, False) and not loc.env_flag(loc.ENV_OFFLINE, False)
    except VocabError:
        allowed = None
    base = os.environ.get(loc.TIKTOKEN_ENCODINGS_BASE)
    packages = {d: _version_of(d) for d in ("openai-harmony", "tiktoken", "requests")}
    vocabs: Dict[str, Any] = {}
    for name in VOCABS:
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
        if not packages["openai-harmony"]:
            entry["openai_harmony"] = _status("not installed", None, "not installed")
        elif name not in HARMONY_ENCODING_VOCABS.values():
            entry["openai_harmony"] = _status("not used", None, "no encoding of openai-harmony's API uses it")
        else:
            entry["openai_harmony"] = predict_openai_harmony(name)
        if not packages["tiktoken"]:
            entry["tiktoken"] = _status("not installed", None, "not installed")
        else:
            resolved = (entry["tier"], entry["path"]) if entry["ok"] else None
            entry["tiktoken"] = predict_tiktoken(name, hook_active, resolved)
        vocabs[name] = entry
    ok = all(v["ok"] and v["openai_harmony"]["status"] in OK_STATUSES and v["tiktoken"]["status"] in OK_STATUSES
             for v in vocabs.values())
    try:
        cache: Optional[str] = str(loc.cache_dir())
    except VocabError:
        cache = None
    where = situation(pth_ran)
    return {
        "ok": ok,
        "harmony_vocab": {"version": harmony_vocab.__version__, "location": str(package_dir),
                          "bundled_dir": str(bundled_dir())},
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "packages": packages,
        "registration": {
            "pth_installed": pth.is_file(),
            "pth_path": str(pth) if pth.is_file() else None,
            "ran_at_startup": pth_ran,
            "autoregister": autoregister,
            "enabled": registration_enabled(os.environ),
            "tiktoken_encodings_base": base,
            "set_by_registration": registered is not None,
            "registered_tier": registered[0] if registered else None,
            "startup_selection": {"tier": registered[0], "directory": registered[1]} if registered else None,
            "tiktoken_hook_active": hook_active,
            "tiktoken_hook": hook_detail,
        },
        "download": {"allowed": allowed, "base_url": redact_url(os.environ.get(loc.ENV_BASE_URL) or "") or None,
                     "cache_dir": cache},
        "vocabs": vocabs,
        "situation": {"kind": where.kind, "explanation": where.explanation, "fix": where.fix,
                      "fix_shell": where.shell, "fix_program": where.program},
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
    if not reg["ran_at_startup"]:
        lines.append(f"the registration could not run: {report['situation']['explanation']}")
        if report["situation"]["fix"]:
            lines.append(f"  fix: {report['situation']['fix']}")
    if reg["tiktoken_encodings_base"] is not None:
        how = (f"set by harmony-vocab's registration, {reg['registered_tier']} tier"
               if reg["set_by_registration"] else "set by the environment")
        lines.append(f"TIKTOKEN_ENCODINGS_BASE={reg['tiktoken_encodings_base']!r} ({how})")
    else:
        lines.append("TIKTOKEN_ENCODINGS_BASE is not set: openai-harmony uses its cache or downloads")
    allowed = {True: "allowed", False: "not allowed (offline)",
               None: "invalid HARMONY_VOCAB_ALLOW_DOWNLOAD or HARMONY_VOCAB_OFFLINE"}[dl["allowed"]]
    lines.append(f"downloads: {allowed}; mirror: {dl['base_url'] or 'none'}; cache: {dl['cache_dir'] or '(no home directory)'}")
    lines.append(f"tiktoken start-up hook: {reg['tiktoken_hook']}")
    lines.append("vocabs:")
    for name, v in report["vocabs"].items():
        if v["ok"]:
            lines.append(f"  {name:<12} {v['tier']:<11} {v['path']}")
        else:
            lines.append(f"  {name:<12} NOT FOUND   {v['error']}; to fetch it (network): {PROG} fetch --name {name}")
        for warning in v["warnings"]:
            lines.append(f"  {'':<12} warning: {warning}")
        for key, dist in (("openai_harmony", "openai-harmony"), ("tiktoken", "tiktoken")):
            status = v[key]
            if status["status"] == "not installed":
                text = "not installed"
            elif status["status"] == "not used":
                text = status["detail"]
            else:
                text = f"{status['status']}: {status['detail']}"
            lines.append(f"  {'':<12} unmodified {dist}: {text}")
    lines.append("ok: every installed tool loads every vocab offline" if report["ok"] else
                 f"NOT OK: see the lines above ('{PROG} resolve NAME' shows every place looked at)")
    return "\n".join(lines) + "\n"
