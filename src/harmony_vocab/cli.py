"""The ``harmony-vocab`` command line (also ``python -m harmony_vocab``): its argument parser and
`main`. The commands themselves (path, resolve, verify, export, env, seed-cache, fetch, doctor) are
in `commands`; ``harmony-vocab COMMAND --help`` documents each one and its JSON shape
(`JSON_SHAPES`). Exit codes: `EXIT_CODES_HELP`. Errors go to stderr, one line first (what was
given, what was expected, what to do), then any list of places tried.
"""

from __future__ import annotations

import argparse
import sys
from typing import IO, Any, Dict, NoReturn, Optional, Sequence

from . import commands
from .console import (
    EXIT_FAILED,
    EXIT_USAGE,
    PROG,
    STDOUT_CLOSED,
    Command,
    Io,
    Messages,
    Output,
    OutputError,
    error,
    finish,
    output_failed,
    run,
)

EXIT_CODES_HELP = """\
exit codes:
  0  success
  1  verification or resolution failed (missing file, size or sha256 mismatch, no verified
     copy found, download failed, export onto a different file without --force), or stdout
     could not take the result (closed, or a full disk)
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
{"ok": bool (false: a vocab has no verified copy, or an installed tool would download or fail),
 "harmony_vocab": {"version": str, "location": str, "bundled_dir": str},
 "python": {"version": str, "executable": str},
 "packages": {"openai-harmony": str|null, "tiktoken": str|null, "requests": str|null},
 "registration": {"pth_installed": bool, "pth_path": str|null, "ran_at_startup": bool,
   "autoregister": str|null, "enabled": bool, "tiktoken_encodings_base": str|null,
   "set_by_registration": bool, "registered_tier": str|null,
   "startup_selection": {"tier": str, "directory": str}|null (what the registration set),
   "tiktoken_hook_active": bool, "tiktoken_hook": str},
 "download": {"allowed": bool|null, "base_url": str|null, "cache_dir": str|null},
 "vocabs": {name: {"ok": bool, "tier": str|null, "path": str|null, "network_needed": bool,
   "error": str|null, "warnings": [str, ...],
   "openai_harmony": {"status": STATUS, "path": str|null, "detail": str},
   "tiktoken": {"status": STATUS, "path": str|null, "detail": str}}, ...},
 "situation": {"kind": "site"|"frozen"|"no-site"|"not-site-dir"|"zip"|"no-pth", "explanation": str,
   "fix": str|null, "fix_shell": str|null, "fix_program": str|null}}
STATUS: what an unmodified openai-harmony / tiktoken would do for that vocab: "offline",
"network" (would download), "broken" (would fail), "not installed", "not used" (no encoding of
that tool reads the vocab). Where the start-up registration could not run, fix says what to do:
fix_shell, a line to run before starting the program, or fix_program, a call to put at the top
of the program""",
}


class _Parser(argparse.ArgumentParser):
    """argparse, with an error that is one line and says where help is."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")

    def _print_message(self, message: str, file: Any = None) -> None:
        # argparse ignores a failed write of --help or --version (3.11) or lets it out (3.9):
        # here stdout fails as it does for any command (`main` reports it), stderr stays quiet.
        if message:
            (Output(file) if file is sys.stdout else Messages(file or sys.stderr)).write(message)


def _vocab_name(value: str) -> str:
    """argparse type: a known vocab name (``.tiktoken`` suffix tolerated)."""
    from .errors import UnknownVocabError
    from .pins import get_pin

    try:
        return get_pin(value).name
    except UnknownVocabError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _OldFetchNames(argparse.Action):
    """``fetch NAME ...``, the older spelling of ``fetch --name NAME ...``: adds to ``names``."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: Optional[str] = None) -> None:
        if values:
            namespace.names = (getattr(namespace, "names", None) or []) + list(values)


def _add_names(p: argparse.ArgumentParser, what: str) -> None:
    """``--name N``, the one way a set of vocabs is chosen."""
    p.add_argument("--name", dest="names", action="append", type=_vocab_name, metavar="N",
                   help=f"{what} only this vocab (repeatable; default: all)")


def _add_json(p: "argparse.ArgumentParser | argparse._MutuallyExclusiveGroup") -> None:
    """``--json``, the one way to ask for JSON output."""
    p.add_argument("--json", action="store_true", help="print JSON (shape below)")


ENV_VARIABLES_DOC = """\
the variables:
  TIKTOKEN_ENCODINGS_BASE=DIR    openai-harmony (and harmony-vocab's environment tier) read the
                                 vocab files from DIR instead of downloading them
  HARMONY_VOCAB_AUTOREGISTER=0   the start-up registration is not needed once the directory is
                                 set explicitly: the image does not depend on the .pth running
"""


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

    def add(name: str, func: Command, help: str, epilog: str = "") -> argparse.ArgumentParser:
        shape = JSON_SHAPES.get(name)
        text = (f"JSON output (--json):\n{shape}\n\n" if shape else "") + (epilog + "\n" if epilog else "")
        p = sub.add_parser(name, help=help, description=help, epilog=text + EXIT_CODES_HELP,
                           formatter_class=formatter)
        p.set_defaults(func=func)
        return p

    p = add("path", commands.cmd_path, "Print the path of the verified vocab file the lookup "
            "order selects (only the path on stdout, for $(...)).")
    p.add_argument("name", metavar="NAME", type=_vocab_name, help="o200k_base or cl100k_base")
    p.add_argument("--bundled", action="store_true", help="the copy packaged in the wheel instead")

    p = add("resolve", commands.cmd_resolve, "Run the lookup order: print the winning tier and "
            "path and every place looked at.")
    p.add_argument("name", metavar="NAME", type=_vocab_name, help="o200k_base or cl100k_base")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--vocab-path", metavar="P", help="an explicit file (must verify)")
    group.add_argument("--vocab-dir", metavar="D", help="an explicit directory holding NAME.tiktoken")
    p.add_argument("--model-dir", metavar="M", help="a model directory or Hugging Face repo id "
                   "(in the local hub cache)")
    p.add_argument("--download", action="store_true", help="allow a download as the last resort")
    _add_json(p)

    p = add("verify", commands.cmd_verify, "Check files or directories against the pins; with no "
            "PATH, every tier that is set (bundled files, variables, model directory, caches).",
            "A file's vocab is taken from --name when one is given, else its name (NAME.tiktoken, "
            "or the sha1 name used in caches), or its size. A directory is searched with its "
            "encodings/, tokenizer/ and original/ subdirectories, and fails if it holds no vocab "
            "file.")
    p.add_argument("paths", metavar="PATH", nargs="*", help="files or directories")
    _add_names(p, "check")
    _add_json(p)

    p = add("export", commands.cmd_export, "Copy verified vocab files into DEST with a "
            "SHA256SUMS (sha256sum -c format), for a container image or a mirrored model repository.",
            "Writes are atomic. A different file already at the destination is an error (exit 1, "
            "nothing written) unless --force.")
    p.add_argument("dest", metavar="DEST", help="the destination directory (created if needed)")
    p.add_argument("--layout", choices=("flat", "encodings"), default="flat",
                   help="flat: DEST/NAME.tiktoken; encodings: DEST/encodings/NAME.tiktoken "
                        "(found by --model-dir DEST)")
    _add_names(p, "export")
    p.add_argument("--force", action="store_true", help="replace files that differ")

    p = add("env", commands.cmd_env, "Print the variable settings that make openai-harmony use "
            "a vocab directory (default: the bundled one), e.g. eval \"$(harmony-vocab env)\".",
            ENV_VARIABLES_DOC)
    p.add_argument("--dir", metavar="D", help="the directory (default: the bundled files)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--format", choices=("sh", "fish", "dockerfile", "json"),
                       help="output syntax (default: sh; json is the same as --json)")
    _add_json(group)

    p = add("seed-cache", commands.cmd_seed_cache, "Write verified copies under the names "
            "tiktoken and openai-harmony look for in their caches, so unmodified programs work offline.",
            "With neither option, both caches at their default places (TIKTOKEN_CACHE_DIR, else "
            "DATA_GYM_CACHE_DIR, else $TMPDIR/data-gym-cache; TIKTOKEN_RS_CACHE_DIR, else "
            "$TMPDIR/tiktoken-rs-cache); with one or both, only those directories.")
    p.add_argument("--tiktoken", metavar="DIR", help="tiktoken's cache directory")
    p.add_argument("--harmony", metavar="DIR", help="openai-harmony's cache directory")
    _add_names(p, "seed")

    p = add("fetch", commands.cmd_fetch, "Download vocab files into harmony-vocab's cache (the "
            "only command that uses the network); prints each file's path.",
            "URLs: $HARMONY_VOCAB_BASE_URL/NAME.tiktoken first when set, then the pinned ones. "
            "The cache: HARMONY_VOCAB_CACHE_DIR, else $XDG_CACHE_HOME/harmony-vocab, else "
            "~/.cache/harmony-vocab. Needs harmony-vocab[download]. The older spelling "
            "'fetch NAME ...' still works.")
    _add_names(p, "download")
    p.add_argument("old_names", nargs="*", type=_vocab_name, action=_OldFetchNames,
                   help=argparse.SUPPRESS)
    p.add_argument("--force", action="store_true", help="download even if a verified copy is cached")

    p = add("doctor", commands.cmd_doctor, "One screen on this installation: versions, "
            "start-up registration, and where each vocab comes from.",
            "Exit 1 if a vocab has no verified copy reachable without the network, or if an installed "
            "openai-harmony or tiktoken would download one (as where the start-up registration could not "
            "run: python -S, PYTHONPATH or --target installs, a zipapp).")
    _add_json(p)
    return parser


def main(argv: Optional[Sequence[str]] = None, *, stdout: Optional[IO[str]] = None,
         stderr: Optional[IO[str]] = None) -> int:
    """Run the command line `argv` (default: ``sys.argv[1:]``); return the exit code."""
    from .situation import registration_ran

    pth_ran = registration_ran()
    io = Io(Output(stdout or sys.stdout), Messages(stderr or sys.stderr))
    if io.out.stream is None:  # started with stdout closed (>&-): refuse before doing anything
        error(STDOUT_CLOSED, io.err)
        return EXIT_FAILED
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (printed to stdout) or a usage error
        return finish(io, exc.code if isinstance(exc.code, int) else EXIT_USAGE)
    except OutputError as exc:
        return output_failed(io, exc)
    args.pth_ran = pth_ran
    return run(args.func, args, io)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
