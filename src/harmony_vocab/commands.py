"""What each ``harmony-vocab`` command does and prints: `cmd_path` ... `cmd_doctor`, each given
the parsed arguments and the `console.Io` to print to, each returning its exit code."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from .console import EXIT_FAILED, EXIT_OK, PROG, Io, UsageError, describe_exception, error, print_json


def _chosen(args: argparse.Namespace) -> List[str]:
    """The vocabs chosen with ``--name`` (in order, once each), else all of them."""
    from .pins import VOCABS

    return list(dict.fromkeys(args.names)) if args.names else list(VOCABS)


def _abs(path: "os.PathLike[str] | str") -> str:
    return os.path.abspath(os.fspath(path))


# ------------------------------------------------------------------------------------- path

def cmd_path(args: argparse.Namespace, io: Io) -> int:
    """Print the path the lookup order selects, or the bundled copy's."""
    if args.bundled:
        from .bundled import bundled_path
        from .errors import VocabError
        from .integrity import check_file, describe_failure
        from .pins import get_pin

        path = bundled_path(args.name)
        try:
            check_file(path, get_pin(args.name))
        except (VocabError, OSError) as exc:  # only a new copy of the package mends its own files
            from .situation import restore_advice

            found = "missing" if isinstance(exc, FileNotFoundError) else f"damaged ({describe_failure(exc)})"
            error(f"the packaged copy of {args.name} at {path} is {found}: this installation of {PROG} "
                  f"is broken; {restore_advice()}", io.err)
            return EXIT_FAILED
    else:
        from .resolution import resolve

        path = resolve(args.name).path
    io.out.write(_abs(path) + "\n")
    return EXIT_OK


# ------------------------------------------------------------------------------------- resolve

def _attempt_dict(attempt: Any) -> Dict[str, Any]:
    return {"tier": attempt.tier, "place": attempt.place, "outcome": attempt.outcome, "ok": attempt.ok}


def cmd_resolve(args: argparse.Namespace, io: Io) -> int:
    """Run the lookup order; print the winner and the attempt trace."""
    import warnings

    from .errors import VocabError, VocabIntegrityError, VocabNotFoundError
    from .pins import get_pin
    from .resolution import resolve

    pin = get_pin(args.name)
    result: Dict[str, Any] = {"name": pin.name, "ok": False, "tier": None, "path": None,
                              "file": pin.file, "sha256": pin.sha256, "size": pin.size,
                              "attempts": [], "error": None}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the trace printed below says the same
            found = resolve(pin.name, vocab_path=args.vocab_path, vocab_dir=args.vocab_dir,
                            model_dir=args.model_dir, download=True if args.download else None)
    except (VocabNotFoundError, VocabIntegrityError) as exc:  # both carry the attempt trace
        result["attempts"] = [_attempt_dict(a) for a in exc.attempts]
        failure: Optional[BaseException] = exc
    except VocabError as exc:
        if args.json:
            result["error"] = str(exc)
            print_json(result, io.out)
        raise
    else:
        failure = None
        result.update(ok=True, tier=found.tier, path=_abs(found.path),
                      attempts=[_attempt_dict(a) for a in found.attempts])
    if failure is not None:
        result["error"] = describe_exception(failure)
        if args.json:
            print_json(result, io.out)
            error(result["error"].splitlines()[0], io.err)
            return EXIT_FAILED
        raise failure
    if args.json:
        print_json(result, io.out)
    else:
        io.out.write(f"{pin.name}: {result['tier']} {result['path']}\n")
        io.out.write("places looked at, in order:\n")
        for i, attempt in enumerate(result["attempts"], 1):
            io.out.write(f"  {i}. [{attempt['tier']}] {attempt['place']}: {attempt['outcome']}\n")
    return EXIT_OK


# ------------------------------------------------------------------------------------- verify

def cmd_verify(args: argparse.Namespace, io: Io) -> int:
    """Check files or directories (or every tier that is set) against the pins."""
    from .checks import check_given, tier_checks

    names = _chosen(args)
    if args.paths:
        given = names[0] if args.names and len(names) == 1 else None  # the vocab every file must be
        checks = [c for p in args.paths for c in check_given(p, names, given)]
    else:
        checks = tier_checks(names)
    failed = [c for c in checks if c.status == "failed"]
    if args.json:
        print_json({"ok": not failed, "checks": [c.as_dict() for c in checks]}, io.out)
    else:
        for c in checks:
            status = {"ok": "ok", "failed": "FAILED", "absent": "absent"}[c.status]
            label = f"[{c.tier}] " if c.tier else ""
            io.out.write(f"{status:<7} {c.name or '-':<12} {label}{c.path}: {c.detail}\n")
    if failed:
        first = failed[0]
        error(f"{len(failed)} of {len(checks)} checked failed verification, first {first.path}: "
              f"{first.detail}; "
              + (f"replace it with a verified copy ({PROG} export DIR) or remove the setting "
                 f"that points at it" if first.tier else
                 f"check the path, or replace it with a verified copy ({PROG} export DIR)"), io.err)
        return EXIT_FAILED
    return EXIT_OK


# ------------------------------------------------------------------------------------- export

def cmd_export(args: argparse.Namespace, io: Io) -> int:
    """Copy verified files and a SHA256SUMS into DEST (or DEST/encodings)."""
    from .export import export

    done = export(args.dest, _chosen(args), layout=args.layout, force=args.force)
    for item in done:
        io.out.write(f"{item.action:<9} {item.path}\n")
    return EXIT_OK


# ------------------------------------------------------------------------------------- env
def _sh_quote(value: str) -> str:
    import shlex

    return shlex.quote(value)


def _fish_quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _dockerfile_quote(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise UsageError(f"{value!r} holds a line break, which a Dockerfile ENV cannot carry: "
                         f"choose a directory without one")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def env_variables(directory: str) -> Dict[str, str]:
    """The settings that make openai-harmony use `directory`."""
    from . import locations as loc

    return {loc.TIKTOKEN_ENCODINGS_BASE: directory, loc.ENV_AUTOREGISTER: "0"}


def format_env(variables: Dict[str, str], fmt: str) -> str:
    """`variables` as sh, fish or Dockerfile lines."""
    if fmt == "sh":
        return "".join(f"export {k}={_sh_quote(v)}\n" for k, v in variables.items())
    if fmt == "fish":
        return "".join(f"set -gx {k} {_fish_quote(v)}\n" for k, v in variables.items())
    if fmt == "dockerfile":
        return "".join(f"ENV {k}={_dockerfile_quote(v)}\n" for k, v in variables.items())
    raise UsageError(f"unknown format {fmt!r}: expected sh, fish, dockerfile or json")


def cmd_env(args: argparse.Namespace, io: Io) -> int:
    """Print the variable settings that make openai-harmony use a directory (checked first)."""
    from .checks import check
    from .bundled import bundled_dir
    from .pins import VOCABS, get_pin

    directory = _abs(args.dir) if args.dir is not None else _abs(bundled_dir())
    if not os.path.isdir(directory):
        error(f"--dir {directory}: not a directory; expected one holding verified vocab files: "
              f"create it with '{PROG} export {_sh_quote(directory)}'", io.err)
        return EXIT_FAILED
    checks = [check(None, n, Path(directory) / get_pin(n).file, absent_ok=True) for n in VOCABS]
    bad = [c for c in checks if c.status == "failed" or (c.status == "absent" and c.name == "o200k_base")]
    if bad:
        detail = "missing" if bad[0].status == "absent" else bad[0].detail
        error(f"{bad[0].path}: {detail}: the directory must hold verified vocab files "
              f"(o200k_base.tiktoken at least); fill it with '{PROG} export {_sh_quote(directory)}'", io.err)
        return EXIT_FAILED
    for c in checks:
        if c.status == "absent":
            io.err.write(f"{PROG}: warning: {c.path} is absent: openai-harmony encodings that use "
                         f"{c.name} will not load from {directory}\n")
    variables = env_variables(directory)
    fmt = "json" if args.json else args.format or "sh"
    if fmt == "json":
        vocabs = {c.name: (c.path if c.status == "ok" else None) for c in checks}
        print_json({"directory": directory, "variables": variables, "vocabs": vocabs}, io.out)
    else:
        io.out.write(format_env(variables, fmt))
    return EXIT_OK


# ------------------------------------------------------------------------------------- seed-cache

def cmd_seed_cache(args: argparse.Namespace, io: Io) -> int:
    """Write verified copies under the names tiktoken and openai-harmony look for."""
    from .locations import harmony_cache_dir, tiktoken_cache_dir
    from .seed import CacheDirError, seed_harmony_cache, seed_tiktoken_cache

    names = _chosen(args)
    targets: List[Tuple[str, Path]] = []
    if args.tiktoken is None and args.harmony is None:
        tiktoken_dir = tiktoken_cache_dir()
        if tiktoken_dir is None:
            error("tiktoken's cache is disabled (TIKTOKEN_CACHE_DIR is set and empty): pass "
                   "--tiktoken DIR, or unset TIKTOKEN_CACHE_DIR", io.err)
            return EXIT_FAILED
        targets = [("tiktoken", tiktoken_dir), ("openai-harmony", harmony_cache_dir())]
    else:
        if args.tiktoken is not None:
            targets.append(("tiktoken", Path(args.tiktoken)))
        if args.harmony is not None:
            targets.append(("openai-harmony", Path(args.harmony)))
    failed = False
    for who, directory in targets:  # each cache on its own: one refused does not stop the other
        seed = seed_tiktoken_cache if who == "tiktoken" else seed_harmony_cache
        try:
            written = seed(directory, names)
        except CacheDirError as exc:
            error(str(exc), io.err)
            failed = True
            continue
        for name, path in zip(names, written):
            io.out.write(f"{who:<15} {name:<12} {_abs(path)}\n")
    return EXIT_FAILED if failed else EXIT_OK


# ------------------------------------------------------------------------------------- fetch

def cmd_fetch(args: argparse.Namespace, io: Io) -> int:
    """Download vocabs into our cache (verified while streaming)."""
    from .errors import VocabError
    from .fetch import download, download_urls
    from .integrity import check_file
    from .locations import cache_dir
    from .pins import get_pin
    from .progress import ProgressBar

    tty = io.err.isatty()
    dest = cache_dir()
    for name in _chosen(args):
        pin = get_pin(name)
        target = dest / pin.file
        if not args.force:
            try:
                check_file(target, pin)
            except (VocabError, OSError):
                pass
            else:
                if tty:
                    io.err.write(f"{name}: already in the cache\n")
                io.out.write(_abs(target) + "\n")
                continue
        urls = download_urls(pin)
        bar = ProgressBar(name, io.err) if tty else None
        try:
            path = download(pin, dest, urls, progress=bar)
        finally:
            if bar is not None:
                bar.finish()
        io.out.write(_abs(path) + "\n")
    return EXIT_OK


# ------------------------------------------------------------------------------------- doctor

def cmd_doctor(args: argparse.Namespace, io: Io) -> int:
    """One screen on the installation, the registration and each vocab's source."""
    from .doctor import doctor_report, format_doctor

    report = doctor_report(args.pth_ran)
    if args.json:
        print_json(report, io.out)
    else:
        io.out.write(format_doctor(report))
    return EXIT_OK if report["ok"] else EXIT_FAILED
