"""The ``harmony-vocab`` command (also ``python -m harmony_vocab``): path, resolve, verify,
export, env, seed-cache, fetch, doctor; ``harmony-vocab COMMAND --help`` documents each one and
its JSON shape (`JSON_SHAPES`). Exit codes: `EXIT_CODES_HELP`. Errors go to stderr, one line first
(what was given, what was expected, what to do), then any list of places tried.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Dict, List, NoReturn, Optional, Sequence, Tuple

PROG = "harmony-vocab"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

EXIT_CODES_HELP = """\
exit codes:
  0  success
  1  verification or resolution failed (missing file, size or sha256 mismatch, no verified
     copy found, download failed, export onto a different file without --force)
  2  usage error (unknown command or option, unknown vocab name)
"""

JSON_SHAPES: Dict[str, str] = {
    "resolve": """\
{"name": str, "ok": bool, "tier": str|null, "path": str|null, "file": str, "sha256": str,
 "size": int, "attempts": [{"tier": str, "place": str, "outcome": str, "ok": bool}, ...],
 "error": str|null}""",
    "verify": """\
{"ok": bool, "checks": [{"tier": str|null, "name": str|null, "path": str,
 "status": "ok"|"failed"|"absent", "detail": str}, ...]}
(tier is null for a PATH given on the command line)""",
    "env": """\
{"directory": str, "variables": {"TIKTOKEN_ENCODINGS_BASE": str,
 "HARMONY_VOCAB_AUTOREGISTER": "0"}, "vocabs": {name: str|null, ...}}""",
    "doctor": """\
{"harmony_vocab": {"version": str, "location": str, "bundled_dir": str},
 "python": {"version": str, "executable": str},
 "packages": {"openai-harmony": str|null, "tiktoken": str|null, "requests": str|null},
 "registration": {"pth_installed": bool, "pth_path": str|null, "ran_at_startup": bool,
   "autoregister": str|null, "enabled": bool, "tiktoken_encodings_base": str|null,
   "set_by_registration": bool, "registered_tier": str|null,
   "startup_selection": {"tier": str, "directory": str}|null},
 "download": {"allowed": bool|null, "base_url": str|null, "cache_dir": str},
 "vocabs": {name: {"ok": bool, "tier": str|null, "path": str|null, "network_needed": bool,
   "error": str|null, "warnings": [str, ...],
   "openai_harmony": {"status": "offline"|"network"|"broken", "path": str|null, "detail": str},
   "tiktoken": {"status": "offline"|"network"|"broken", "path": str|null, "detail": str}}, ...}}
(status tells whether an unmodified openai-harmony / tiktoken would load that vocab offline)""",
}


class UsageError(Exception):
    """A command line that cannot be carried out as given (exit 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, with an error that is one line and says where help is."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ------------------------------------------------------------------------------------- helpers

def _vocab_name(value: str) -> str:
    """argparse type: a known vocab name (``.tiktoken`` suffix tolerated)."""
    from .errors import UnknownVocabError
    from .pins import get_pin

    try:
        return get_pin(value).name
    except UnknownVocabError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _abs(path: "os.PathLike[str] | str") -> str:
    return os.path.abspath(os.fspath(path))


def _print_json(data: Any, out: IO[str]) -> None:
    import json

    json.dump(data, out, indent=2, sort_keys=False)
    out.write("\n")


def _error(message: str, err: IO[str]) -> None:
    err.write(f"{PROG}: error: {message}\n")


def _describe_exception(exc: BaseException) -> str:
    """The message of an expected failure, with what to do when the exception does not say it."""
    from .errors import VocabIntegrityError

    if isinstance(exc, VocabIntegrityError):
        return f"{exc}; replace it with a verified copy ({PROG} export, or {PROG} fetch)"
    if isinstance(exc, OSError) and not hasattr(exc, "attempts") and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    return str(exc)


@dataclass
class _Io:
    out: IO[str]
    err: IO[str]


# ------------------------------------------------------------------------------------- path

def cmd_path(args: argparse.Namespace, io: _Io) -> int:
    """Print the path the lookup order selects, or the bundled copy's."""
    if args.bundled:
        from .bundled import bundled_path
        from .integrity import check_file
        from .pins import get_pin

        path = bundled_path(args.name)
        try:
            check_file(path, get_pin(args.name))
        except FileNotFoundError:
            _error(f"the packaged copy of {args.name} is missing at {path}: this installation carries "
                   f"no vocab files; reinstall harmony-vocab from a wheel (pip install "
                   f"--force-reinstall harmony-vocab)", io.err)
            return EXIT_FAILED
    else:
        from .resolution import resolve

        path = resolve(args.name).path
    io.out.write(_abs(path) + "\n")
    return EXIT_OK


# ------------------------------------------------------------------------------------- resolve

def _attempt_dict(attempt: Any) -> Dict[str, Any]:
    return {"tier": attempt.tier, "place": attempt.place, "outcome": attempt.outcome, "ok": attempt.ok}


def cmd_resolve(args: argparse.Namespace, io: _Io) -> int:
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
            _print_json(result, io.out)
        raise
    else:
        failure = None
        result.update(ok=True, tier=found.tier, path=_abs(found.path),
                      attempts=[_attempt_dict(a) for a in found.attempts])
    if failure is not None:
        result["error"] = _describe_exception(failure)
        if args.json:
            _print_json(result, io.out)
            _error(result["error"].splitlines()[0], io.err)
            return EXIT_FAILED
        raise failure
    if args.json:
        _print_json(result, io.out)
    else:
        io.out.write(f"{pin.name}: {result['tier']} {result['path']}\n")
        io.out.write("places looked at, in order:\n")
        for i, attempt in enumerate(result["attempts"], 1):
            io.out.write(f"  {i}. [{attempt['tier']}] {attempt['place']}: {attempt['outcome']}\n")
    return EXIT_OK


# ------------------------------------------------------------------------------------- verify

def cmd_verify(args: argparse.Namespace, io: _Io) -> int:
    """Check files or directories (or every tier that is set) against the pins."""
    from .checks import check_given, tier_checks
    from .pins import VOCABS

    names = [args.name] if args.name else list(VOCABS)
    if args.paths:
        checks = [c for p in args.paths for c in check_given(p, names, args.name)]
    else:
        checks = tier_checks(names)
    failed = [c for c in checks if c.status == "failed"]
    if args.json:
        _print_json({"ok": not failed, "checks": [c.as_dict() for c in checks]}, io.out)
    else:
        for c in checks:
            status = {"ok": "ok", "failed": "FAILED", "absent": "absent"}[c.status]
            label = f"[{c.tier}] " if c.tier else ""
            io.out.write(f"{status:<7} {c.name or '-':<12} {label}{c.path}: {c.detail}\n")
    if failed:
        first = failed[0]
        _error(f"{len(failed)} of {len(checks)} checked failed verification, first {first.path}: "
               f"{first.detail}; "
               + (f"replace it with a verified copy ({PROG} export DIR) or remove the setting "
                  f"that points at it" if first.tier else
                  f"check the path, or replace it with a verified copy ({PROG} export DIR)"), io.err)
        return EXIT_FAILED
    return EXIT_OK


# ------------------------------------------------------------------------------------- export

def cmd_export(args: argparse.Namespace, io: _Io) -> int:
    """Copy verified files and a SHA256SUMS into DEST (or DEST/encodings)."""
    from .export import export
    from .pins import VOCABS

    done = export(args.dest, args.names or VOCABS, layout=args.layout, force=args.force)
    for item in done:
        io.out.write(f"{item.action:<9} {item.path}\n")
    return EXIT_OK


# ------------------------------------------------------------------------------------- env

ENV_VARIABLES_DOC = """\
the variables:
  TIKTOKEN_ENCODINGS_BASE=DIR    openai-harmony (and harmony-vocab's environment tier) read the
                                 vocab files from DIR instead of downloading them
  HARMONY_VOCAB_AUTOREGISTER=0   the start-up registration is not needed once the directory is
                                 set explicitly: the image does not depend on the .pth running
"""


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


def cmd_env(args: argparse.Namespace, io: _Io) -> int:
    """Print the variable settings that make openai-harmony use a directory (checked first)."""
    from .checks import check
    from .bundled import bundled_dir
    from .pins import VOCABS, get_pin

    directory = _abs(args.dir) if args.dir is not None else _abs(bundled_dir())
    if not os.path.isdir(directory):
        _error(f"--dir {directory}: not a directory; expected one holding verified vocab files: "
               f"create it with '{PROG} export {_sh_quote(directory)}'", io.err)
        return EXIT_FAILED
    checks = [check(None, n, Path(directory) / get_pin(n).file, absent_ok=True) for n in VOCABS]
    bad = [c for c in checks if c.status == "failed" or (c.status == "absent" and c.name == "o200k_base")]
    if bad:
        detail = "missing" if bad[0].status == "absent" else bad[0].detail
        _error(f"{bad[0].path}: {detail}: the directory must hold verified vocab files "
               f"(o200k_base.tiktoken at least); fill it with '{PROG} export {_sh_quote(directory)}'", io.err)
        return EXIT_FAILED
    for c in checks:
        if c.status == "absent":
            io.err.write(f"{PROG}: warning: {c.path} is absent: openai-harmony encodings that use "
                         f"{c.name} will not load from {directory}\n")
    variables = env_variables(directory)
    if args.format == "json":
        vocabs = {c.name: (c.path if c.status == "ok" else None) for c in checks}
        _print_json({"directory": directory, "variables": variables, "vocabs": vocabs}, io.out)
    else:
        io.out.write(format_env(variables, args.format))
    return EXIT_OK


# ------------------------------------------------------------------------------------- seed-cache

def cmd_seed_cache(args: argparse.Namespace, io: _Io) -> int:
    """Write verified copies under the names tiktoken and openai-harmony look for."""
    from .locations import harmony_cache_dir, tiktoken_cache_dir
    from .pins import VOCABS
    from .seed import seed_harmony_cache, seed_tiktoken_cache

    names = args.names or list(VOCABS)
    targets: List[Tuple[str, Path]] = []
    if args.tiktoken is None and args.harmony is None:
        tiktoken_dir = tiktoken_cache_dir()
        if tiktoken_dir is None:
            _error("tiktoken's cache is disabled (TIKTOKEN_CACHE_DIR is set and empty): pass "
                   "--tiktoken DIR, or unset TIKTOKEN_CACHE_DIR", io.err)
            return EXIT_FAILED
        targets = [("tiktoken", tiktoken_dir), ("openai-harmony", harmony_cache_dir())]
    else:
        if args.tiktoken is not None:
            targets.append(("tiktoken", Path(args.tiktoken)))
        if args.harmony is not None:
            targets.append(("openai-harmony", Path(args.harmony)))
    for who, directory in targets:
        seed = seed_tiktoken_cache if who == "tiktoken" else seed_harmony_cache
        for name, path in zip(names, seed(directory, names)):
            io.out.write(f"{who:<15} {name:<12} {_abs(path)}\n")
    return EXIT_OK


# ------------------------------------------------------------------------------------- fetch

class _ProgressBar:
    """``\\r``-updated progress on a terminal."""

    def __init__(self, label: str, stream: IO[str]) -> None:
        self.label = label
        self.stream = stream
        self.last = -1.0
        self.shown = False

    def __call__(self, received: int, total: int) -> None:
        import time

        now = time.monotonic()
        if received < total and now - self.last < 0.1:
            return
        self.last = now
        percent = received * 100 // total if total else 100
        self.stream.write(f"\r{self.label}: {received / 1e6:6.1f} / {total / 1e6:.1f} MB {percent:3d}%")
        self.stream.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def cmd_fetch(args: argparse.Namespace, io: _Io) -> int:
    """Download vocabs into our cache (verified while streaming)."""
    from .errors import VocabError
    from .fetch import download, download_urls
    from .integrity import check_file
    from .locations import cache_dir
    from .pins import VOCABS, get_pin

    tty = hasattr(io.err, "isatty") and io.err.isatty()
    dest = cache_dir()
    for name in dict.fromkeys(args.names or VOCABS):
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
        bar = _ProgressBar(name, io.err) if tty else None
        try:
            path = download(pin, dest, urls, progress=bar)
        finally:
            if bar is not None:
                bar.finish()
        io.out.write(_abs(path) + "\n")
    return EXIT_OK


# ------------------------------------------------------------------------------------- doctor

def cmd_doctor(args: argparse.Namespace, io: _Io) -> int:
    """One screen on the installation, the registration and each vocab's source."""
    from .doctor import doctor_report, format_doctor

    report = doctor_report(args.pth_ran)
    if args.json:
        _print_json(report, io.out)
    else:
        io.out.write(format_doctor(report))
    return EXIT_OK if all(v["ok"] for v in report["vocabs"].values()) else EXIT_FAILED


# ------------------------------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``harmony-vocab``."""
    from . import __version__

    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=PROG,
        description="Locate, check, export and seed the tiktoken vocab files behind openai-harmony "
                    "and tiktoken. Offline, except 'fetch'.",
        epilog=EXIT_CODES_HELP,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    sub.required = True

    def add(name: str, func: Callable[[argparse.Namespace, _Io], int], help: str, epilog: str = "") -> argparse.ArgumentParser:
        shape = JSON_SHAPES.get(name)
        text = (f"JSON output (--json):\n{shape}\n\n" if shape else "") + (epilog + "\n" if epilog else "")
        p = sub.add_parser(name, help=help, description=help, epilog=text + EXIT_CODES_HELP,
                           formatter_class=formatter)
        p.set_defaults(func=func)
        return p

    p = add("path", cmd_path, "Print the path of the verified vocab file the lookup order selects "
            "(only the path on stdout, for $(...)).")
    p.add_argument("name", metavar="NAME", type=_vocab_name, help="o200k_base or cl100k_base")
    p.add_argument("--bundled", action="store_true", help="the copy packaged in the wheel instead")

    p = add("resolve", cmd_resolve, "Run the lookup order: print the winning tier and path and "
            "every place looked at.")
    p.add_argument("name", metavar="NAME", type=_vocab_name, help="o200k_base or cl100k_base")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--vocab-path", metavar="P", help="an explicit file (must verify)")
    group.add_argument("--vocab-dir", metavar="D", help="an explicit directory holding NAME.tiktoken")
    p.add_argument("--model-dir", metavar="M", help="a model directory or Hugging Face repo id "
                   "(in the local hub cache)")
    p.add_argument("--download", action="store_true", help="allow a download as the last resort")
    p.add_argument("--json", action="store_true", help="print JSON (shape below)")

    p = add("verify", cmd_verify, "Check files or directories against the pins; with no PATH, "
            "every tier that is set (bundled files, variables, model directory, caches).",
            "A file's vocab is taken from --name, its name (NAME.tiktoken, or the sha1 name used in "
            "caches), or its size. A directory is searched with its encodings/, tokenizer/ and "
            "original/ subdirectories, and fails if it holds no vocab file.")
    p.add_argument("paths", metavar="PATH", nargs="*", help="files or directories")
    p.add_argument("--name", type=_vocab_name, help="the vocab the files must be")
    p.add_argument("--json", action="store_true", help="print JSON (shape below)")

    p = add("export", cmd_export, "Copy verified vocab files into DEST with a SHA256SUMS "
            "(sha256sum -c format), for a container image or a mirrored model repository.",
            "Writes are atomic. A different file already at the destination is an error (exit 1, "
            "nothing written) unless --force.")
    p.add_argument("dest", metavar="DEST", help="the destination directory (created if needed)")
    p.add_argument("--layout", choices=("flat", "encodings"), default="flat",
                   help="flat: DEST/NAME.tiktoken; encodings: DEST/encodings/NAME.tiktoken "
                        "(found by --model-dir DEST)")
    p.add_argument("--name", dest="names", action="append", type=_vocab_name, metavar="N",
                   help="export only this vocab (repeatable; default: all)")
    p.add_argument("--force", action="store_true", help="replace files that differ")

    p = add("env", cmd_env, "Print the variable settings that make openai-harmony use a vocab "
            "directory (default: the bundled one), e.g. eval \"$(harmony-vocab env)\".",
            ENV_VARIABLES_DOC)
    p.add_argument("--dir", metavar="D", help="the directory (default: the bundled files)")
    p.add_argument("--format", choices=("sh", "fish", "dockerfile", "json"), default="sh",
                   help="output syntax (default: sh)")

    p = add("seed-cache", cmd_seed_cache, "Write verified copies under the names tiktoken and "
            "openai-harmony look for in their caches, so unmodified programs work offline.",
            "With neither option, both caches at their default places (TIKTOKEN_CACHE_DIR, else "
            "DATA_GYM_CACHE_DIR, else $TMPDIR/data-gym-cache; TIKTOKEN_RS_CACHE_DIR, else "
            "$TMPDIR/tiktoken-rs-cache); with one or both, only those directories.")
    p.add_argument("--tiktoken", metavar="DIR", help="tiktoken's cache directory")
    p.add_argument("--harmony", metavar="DIR", help="openai-harmony's cache directory")
    p.add_argument("--name", dest="names", action="append", type=_vocab_name, metavar="N",
                   help="seed only this vocab (repeatable; default: all)")

    p = add("fetch", cmd_fetch, "Download vocab files into harmony-vocab's cache (the only "
            "command that uses the network); prints each file's path.",
            "URLs: $HARMONY_VOCAB_BASE_URL/NAME.tiktoken first when set, then the pinned ones. "
            "The cache: HARMONY_VOCAB_CACHE_DIR, else $XDG_CACHE_HOME/harmony-vocab, else "
            "~/.cache/harmony-vocab. Needs harmony-vocab[download].")
    p.add_argument("names", metavar="NAME", nargs="*", type=_vocab_name, help="default: all")
    p.add_argument("--force", action="store_true", help="download even if a verified copy is cached")

    p = add("doctor", cmd_doctor, "One screen on this installation: versions, start-up "
            "registration, and where each vocab comes from.",
            "Exit 1 if a vocab has no verified copy reachable without the network.")
    p.add_argument("--json", action="store_true", help="print JSON (shape below)")
    return parser


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    text = str(message)
    if not text.startswith(f"{PROG}:"):
        text = f"{PROG}: warning: {text}"
    sys.stderr.write(text + "\n")


def main(argv: Optional[Sequence[str]] = None, *, stdout: Optional[IO[str]] = None,
         stderr: Optional[IO[str]] = None) -> int:
    """Run the command line `argv` (default: ``sys.argv[1:]``); return the exit code."""
    pth_ran = "_harmony_vocab_startup" in sys.modules
    import warnings

    io = _Io(stdout or sys.stdout, stderr or sys.stderr)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    args.pth_ran = pth_ran

    from .errors import UnknownVocabError, VocabError

    with warnings.catch_warnings():
        warnings.showwarning = _show_warning  # one line, no source excerpt
        try:
            return int(args.func(args, io))
        except (UsageError, UnknownVocabError) as exc:
            _error(_describe_exception(exc), io.err)
            return EXIT_USAGE
        except BrokenPipeError:
            return EXIT_FAILED
        except (VocabError, OSError) as exc:
            _error(_describe_exception(exc), io.err)
            return EXIT_FAILED
        except KeyboardInterrupt:
            io.err.write(f"{PROG}: interrupted\n")
            return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
