"""`verify`'s checks of files and directories, and `doctor`'s report: what is installed, whether
the start-up registration ran, where each vocab comes from, what an unmodified openai-harmony and
tiktoken would do, and the fixes that work as printed."""

import os
import sys

from . import __version__
from .errors import PROG, VocabError, redact
from .files import check_file, describe_failure, file_of
from .lookup import FREEZER_DATA_OPTIONS, freezer, resolve
from .pins import PINS, WHEELS, get_pin
from .tiers import (ENV_AUTOREGISTER, ENV_BASE_URL, QUIET, TIKTOKEN_ENCODINGS_BASE, Place, cache_dir, directory_places,
    harmony_cache_dir, harmony_readable, installed_vocabs, not_installed, places, registered_by_us,
    registration_enabled, subdirs_text, tiktoken_cache_dir)

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, Iterable, List, Optional, Sequence

OK_STATUSES = ("offline", "not installed", "not used")
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def check(tier: "Optional[str]", name: "Optional[str]", path: str, absent_ok: bool = False) -> "Dict[str, Any]":
    """One file checked against the pin of `name`: ``{tier, name, path, status, detail}``, status
    "ok", "failed" or (with `absent_ok`) "absent"."""
    entry: "Dict[str, Any]" = {"tier": tier, "name": name, "path": path}
    if name is None:
        return {**entry, "status": "failed", "detail": "matches no pinned vocab file: name it as the pin does "
                                                        "(<vocab>.tiktoken) or pass --name"}
    if absent_ok and not os.path.lexists(path):
        return {**entry, "status": "absent", "detail": "not present"}
    f = file_of(get_pin(name), path)
    try:
        check_file(path, f)
    except (VocabError, OSError) as exc:
        return {**entry, "status": "failed", "detail": describe_failure(exc)}
    return {**entry, "status": "ok", "detail": f"sha256 {f.sha256}, {f.size} bytes"}


def _identify(path: str, names: "Sequence[str]") -> "Optional[str]":
    """The vocab a file is meant to be, from its name (as a pin or a cache names it), else its size."""
    base = os.path.basename(path)
    for name in names:
        if any(base in (f.name, f.cache_key) for f in PINS[name].files):
            return name
    try:
        size = os.stat(path).st_size
    except OSError:
        return None
    matches = [n for n in names if any(f.size == size for f in PINS[n].files)]
    return matches[0] if len(matches) == 1 else None


def check_places(found: "Iterable[Place]", name: str) -> "List[Dict[str, Any]]":
    """Checks of the places of one vocab: each set place's files, the tokenizer.json rebuilt."""
    checks = []
    for place in (p for p in found if p.kind != "download"):
        tier = place.tier or None  # "": a directory given to verify, in no tier
        if place.paths is None:
            if place.on_failure != QUIET:
                checks.append({"tier": tier, "name": name, "path": place.label, "status": "failed",
                               "detail": place.outcome})
        elif place.kind == "tokenizer.json":
            from .tokenizer_json import rebuilt_copy  # imported only where a tokenizer.json is found

            path, outcome = rebuilt_copy(place.paths[0], PINS[name], cache_dir(os.environ))
            outcome = outcome.removeprefix(place.paths[0]).lstrip(": ")  # the line names the path once
            checks.append({"tier": tier, "name": name, "path": place.paths[0],
                           "status": "ok" if path else "failed", "detail": outcome})
        else:
            required = (place.on_failure != QUIET and not place.optional) or place.tier == "package"
            checks += [check(tier, name, p, absent_ok=not required) for p in place.paths]
    return checks


def verify_paths(paths: "Sequence[str]", names: "Sequence[str]") -> "List[Dict[str, Any]]":
    """The checks of ``verify PATH...``: a directory is searched as a model directory is (`directory_places`,
    the lookup's own function); a file is checked as the vocab its name or size says (or as `names`' only one)."""
    checks: "List[Dict[str, Any]]" = []
    for path in paths:
        if os.path.isdir(path):
            found = [c for n in names for c in check_places(
                [p for p in directory_places("", [path], PINS[n], path) if p.paths], n)]
            # a tokenizer.json is one vocab: once it rebuilds into one, it is not failed for the others
            rebuilt = {c["path"] for c in found if c["status"] == "ok" and c["path"].endswith("tokenizer.json")}
            checks += [c for c in found if c["status"] == "ok" or c["path"] not in rebuilt] or [
                {"tier": None, "name": None, "path": path, "status": "failed",
                 "detail": f"holds no vocab file (looked in {subdirs_text()})"}]
        elif not os.path.lexists(path):
            checks.append({"tier": None, "name": None, "path": path, "status": "failed", "detail": "missing"})
        elif os.path.basename(path) == "tokenizer.json":  # rebuilt, as the model tier does
            found = [c for n in names if PINS[n].ranks and len(PINS[n].files) == 1
                     for c in check_places([Place("", path, (path,), kind="tokenizer.json")], n)]
            checks += [c for c in found if c["status"] == "ok"] or found[:1]
        else:
            checks.append(check(None, names[0] if len(names) == 1 else _identify(path, names), path))
    return checks


def verify_tiers(names: "Sequence[str]") -> "List[Dict[str, Any]]":
    """The checks of ``verify`` with no path: every place of the lookup order that is set."""
    return [c for n in names for c in check_places(places(PINS[n], os.environ), n)]


# ------------------------------------------------------------------------------ doctor

def _version(distribution: str) -> "Optional[str]":
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _status(status: str, detail: str, path: "Optional[str]" = None) -> "Dict[str, Any]":
    return {"status": status, "path": path, "detail": detail}


def _cached(name: str, directory: "Optional[str]", who: str) -> "Dict[str, Any]":
    if directory is None:
        return _status("network", f"{who}'s cache is disabled: would download")
    found = [check(None, name, os.path.join(directory, f.cache_key), absent_ok=True) for f in PINS[name].files]
    if all(c["status"] == "ok" for c in found):
        return _status("offline", f"verified copy in {who}'s cache", found[0]["path"])
    bad = next(c for c in found if c["status"] != "ok")
    why = "not in" if bad["status"] == "absent" else f"its copy fails its pin ({bad['detail']}) in"
    return _status("network", f"{why} {who}'s cache: would download", bad["path"])


def predict_openai_harmony(name: str) -> "Dict[str, Any]":
    """What an unmodified openai-harmony started with this environment does for vocab `name`."""
    base = os.environ.get(TIKTOKEN_ENCODINGS_BASE)
    if not PINS[name].harmony:
        return _status("not used", "no encoding of openai-harmony's API uses it")
    if base is None:
        return _cached(name, harmony_cache_dir(os.environ), "openai-harmony")
    if not harmony_readable(base):
        return _status("broken", f"{TIKTOKEN_ENCODINGS_BASE} is not UTF-8, which openai-harmony cannot read: "
                                 f"it would download")
    found = check(None, name, os.path.join(os.path.abspath(base), PINS[name].file), absent_ok=True)
    if found["status"] == "ok":
        return _status("offline", f"verified file via {TIKTOKEN_ENCODINGS_BASE}", found["path"])
    return _status("broken", f"{found['detail'] if found['status'] == 'failed' else 'missing'}: openai-harmony "
                             f"reads only {TIKTOKEN_ENCODINGS_BASE} and fails; fix or unset it", found["path"])


def tiktoken_hook() -> "Dict[str, Any]":
    """Whether the start-up hook serves unmodified tiktoken started like this process (or it cannot be imported)."""
    from .tiktoken import hook_installed  # imported here: verify's checks do without it

    hooked = hook_installed()
    try:
        import tiktoken.load
    except Exception as exc:
        return {"active": False, "broken": True, "detail": f"tiktoken cannot be imported ({type(exc).__name__}: {exc})"}
    if not hooked:
        return {"active": False, "detail": "harmony-vocab's start-up hook is not installed in this process"}
    if not getattr(tiktoken.load.load_tiktoken_bpe, "__harmony_vocab__", False):
        return {"active": False, "detail": f"this tiktoken ({_version('tiktoken')}) reads its vocabs in a way the "
                                           f"hook does not know (tiktoken >= 0.7.0 is)"}
    return {"active": True, "detail": "active"}


def _tiktoken_defines(encoding: str) -> bool:
    """Whether the installed tiktoken defines `encoding` (tiktoken 0.5 has no o200k_base)."""
    try:
        from tiktoken_ext import openai_public
    except Exception:  # a broken tiktoken: the prediction says what its cache would do
        return True
    return encoding in getattr(openai_public, "ENCODING_CONSTRUCTORS", {encoding: None})


def _situation() -> "Dict[str, Any]":
    """Whether the start-up registration could run in this process, and why not."""
    from .tiktoken import hook_installed

    ran = bool(getattr(sys.modules.get("_harmony_vocab_startup"), "_ran", False))
    called = registered_by_us(os.environ) is not None and hook_installed()
    if built_by := freezer():
        kind, why = "frozen", f"a frozen app built by {built_by}" + (
            ": the registration ran" if ran or called else ": no start-up registration ran")
    elif ran:
        kind, why = "site", "the .pth ran at start-up"
    elif called:
        kind, why = "registered", "harmony_vocab.register() ran in this process"
    elif not registration_enabled(os.environ):
        kind, why = "disabled", (f"{ENV_AUTOREGISTER}={os.environ[ENV_AUTOREGISTER]} turned off the start-up "
                                 f"registration and the tiktoken hook; to undo: unset {ENV_AUTOREGISTER}")
    elif not os.path.isdir(PACKAGE_DIR):
        kind, why = "zip", f"harmony_vocab is imported from a zip ({PACKAGE_DIR}): Python reads no .pth file there"
    elif sys.flags.no_site:
        kind, why = "no-site", "python -S: Python read no .pth file at start-up"
    else:
        kind, why = "not-site-dir", (f"harmony_vocab is imported from {os.path.dirname(PACKAGE_DIR)}, where Python "
                                     f"reads no .pth file (PYTHONPATH, pip install --target or --prefix)")
    return {"kind": kind, "ran": ran or called, "explanation": why}


def fixes(situation: "Dict[str, Any]", packages: "Dict[str, Optional[str]]") -> "List[str]":
    """What to do where the registration could not run: each line works as printed."""
    kind = situation["kind"]
    if situation["ran"] or kind == "disabled":
        return []
    top = "`import harmony_vocab; harmony_vocab.register()` at the top of the program, at module level"
    if kind == "frozen":
        return [f"{top}; {FREEZER_DATA_OPTIONS[str(freezer())]}"]
    if kind == "zip":
        return [f"{top} (openai-harmony and tiktoken themselves cannot load from a zip: their compiled parts "
                f"need a zipapp tool that unpacks, such as shiv)"]
    python = sys.executable or "python"
    lines = [top + " (serves both tools)"]
    if packages["openai-harmony"]:
        lines.append(f'for openai-harmony: eval "$({python} -m harmony_vocab env)" before starting the program')
    if packages["tiktoken"]:
        lines.append(f"for tiktoken: {python} -m harmony_vocab seed-cache --tiktoken DIR, then "
                     f"export TIKTOKEN_CACHE_DIR=DIR (a directory of yours) before starting the program")
    return lines


def doctor_report() -> "Dict[str, Any]":
    """The data `doctor` shows (``harmony-vocab doctor --help`` gives its JSON shape)."""
    import platform
    import warnings

    packages = {d: _version(d) for d in ("openai-harmony", "tiktoken", "requests", WHEELS["legacy"]["distribution"])}
    hook: "Dict[str, Any]" = (tiktoken_hook() if packages["tiktoken"] else
                              {"active": False, "detail": "tiktoken is not installed"})
    situation = _situation()
    vocabs: "Dict[str, Dict[str, Any]]" = {}
    for name, pin in PINS.items():
        entry = vocabs[name] = {"ok": False, "tier": None, "path": None, "error": None, "warnings": []}
        if name not in installed_vocabs():
            dist = WHEELS[pin.wheel]["distribution"]
            entry.update(ok=True, error=f"{dist} is not in this frozen app" if situation["kind"] == "frozen"
                         else not_installed(pin.wheel))
            entry["openai_harmony"] = entry["tiktoken"] = _status("not used", f"{dist} is not installed")
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                found = resolve(name, download=False)
                entry.update(ok=True, tier=found.tier, path=found.strings[0])
            except (VocabError, OSError) as exc:
                entry["error"] = str(exc).splitlines()[0] + f" (see '{PROG} resolve {name}')"
        entry["warnings"] = [str(w.message) for w in caught]
        entry["openai_harmony"] = (predict_openai_harmony(name) if packages["openai-harmony"] else
                                   _status("not installed", "not installed"))
        if not packages["tiktoken"]:
            entry["tiktoken"] = _status("not installed", "not installed")
        elif hook.get("broken"):
            entry["tiktoken"] = _status("broken", hook["detail"])
        elif not any(_tiktoken_defines(e) for e in pin.encodings):
            entry["tiktoken"] = _status("not used", f"tiktoken {packages['tiktoken']} has no encoding on {name}")
        elif hook["active"] and entry["ok"]:
            entry["tiktoken"] = _status("offline", f"{', '.join(pin.encodings)}: served by harmony-vocab's "
                                                   f"start-up hook ({entry['tier']} tier)", entry["path"])
        else:
            entry["tiktoken"] = _cached(name, tiktoken_cache_dir(os.environ), "tiktoken")
    ok = all(v["ok"] and v["openai_harmony"]["status"] in OK_STATUSES and v["tiktoken"]["status"] in OK_STATUSES
             for v in vocabs.values())
    ours = registered_by_us(os.environ)
    return {
        "ok": ok, "checked": bool(packages["openai-harmony"] or packages["tiktoken"]),
        "harmony_vocab": {"version": __version__, "location": PACKAGE_DIR},
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "packages": packages, "frozen_by": freezer(), "situation": situation,
        "fixes": fixes(situation, packages), "tiktoken_hook": hook,
        "tiktoken_encodings_base": os.environ.get(TIKTOKEN_ENCODINGS_BASE),
        "registered_tier": ours[0] if ours else None, "mirror": redact(os.environ.get(ENV_BASE_URL) or "") or None,
        "cache_dir": cache_dir(os.environ), "vocabs": vocabs,
    }


def format_doctor(report: "Dict[str, Any]") -> str:
    """`report` as the lines ``harmony-vocab doctor`` prints."""
    lines = [f"harmony-vocab {report['harmony_vocab']['version']} at {report['harmony_vocab']['location']}",
             f"Python {report['python']['version']} ({report['python']['executable']})",
             "installed: " + ", ".join(f"{d} {v or 'not installed'}" for d, v in report["packages"].items()),
             f"start-up registration: {report['situation']['explanation']}"]
    lines += [f"  fix: {fix}" for fix in report["fixes"]]
    base, tier = report["tiktoken_encodings_base"], report["registered_tier"]
    how = f"set by the registration, {tier} tier" if tier else "set by the environment"
    lines.append(f"{TIKTOKEN_ENCODINGS_BASE} is not set: openai-harmony uses its cache or downloads" if base is None
                 else f"{TIKTOKEN_ENCODINGS_BASE}={base!r} ({how})")
    lines += [f"tiktoken start-up hook: {report['tiktoken_hook']['detail']}", "vocabs:"]
    for name, v in report["vocabs"].items():
        where = (f"{v['tier']:<11} {v['path']}" if v["tier"] else
                 f"{'NOT FOUND' if not v['ok'] else '-':<11} {v['error']}")
        lines.append(f"  {name:<12} {where}")
        lines += [f"  {'':<12} warning: {w}" for w in v["warnings"]]
        for key in ("openai_harmony", "tiktoken"):
            plain = v[key]["status"] in ("not used", "not installed")  # the detail says it all
            if v["tier"] or not plain:
                text = v[key]["detail"] if plain else f"{v[key]['status']}: {v[key]['detail']}"
                lines.append(f"  {'':<12} unmodified {key.replace('_', '-')}: {text}")
    if not report["checked"]:
        lines.append(f"nothing to check: neither openai-harmony nor tiktoken is installed here. For programs in other "
                     f"environments, '{PROG} env' prints the setting that points openai-harmony at these files")
    else:
        lines.append("ok: every installed tool loads every installed vocab offline" if report["ok"] else
                     f"NOT OK: see the lines above ('{PROG} resolve NAME' shows every place looked at)")
    return "\n".join(lines) + "\n"
