"""The ``harmony-vocab`` command (also ``python -m harmony_vocab``): `main` runs one ``cmd_*`` function on the
parsed arguments and returns its exit code. Results go to stdout; an expected failure is one line on stderr
(what was given, what was expected, what to do), then any places tried. ``COMMAND --help`` documents each."""

import os
import sys

from .errors import PROG, UnknownVocabError, VocabError, VocabIntegrityError, VocabNotFoundError, format_attempts

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    import argparse
    from typing import Any, Callable, List, Optional, Sequence

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_CODES_HELP = """\
exit codes:
  0  success
  1  verification or resolution failed (missing file, size or sha256 mismatch, no verified copy,
     download failed, export onto a different file without --force), or stdout could not take
     the result (closed, or a full disk)
  2  usage error (unknown command or option, unknown vocab name, an empty argument)
"""


class UsageError(Exception):
    """A command line that cannot be carried out as given (exit 2)."""


class OutputError(Exception):
    """Standard output cannot take a command's result: closed, a full disk, a reader gone."""


def out(text: str, flush: bool = False) -> None:
    """Print a result (and with `flush`, flush what is buffered); a failed write raises `OutputError`."""
    try:
        try:
            sys.stdout.write(text)
        except UnicodeEncodeError:  # a path the terminal's encoding cannot show: its bytes, as the shell has them
            sys.stdout.flush()
            sys.stdout.buffer.write(os.fsencode(text))
        if flush:
            sys.stdout.flush()
    except (OSError, ValueError, AttributeError) as exc:  # AttributeError: no stdout at all
        raise OutputError(f"cannot write to standard output: {getattr(exc, 'strerror', None) or exc}") from exc


def err(text: str, end: str = "\n") -> None:
    """Print a message; a closed or failing stderr swallows it (there is nowhere else to say it)."""
    try:
        sys.stderr.write(text + end)
    except (OSError, ValueError, AttributeError):  # AttributeError: no stderr at all
        pass


def _json(data: "Any") -> None:
    import json

    out(json.dumps(data, indent=2) + "\n")


def _given(value: "Optional[str]", what: str) -> "Optional[str]":
    """`value`, refused when given but empty (an unset shell variable would otherwise mean the current directory)."""
    if value is not None and not value.strip():
        raise UsageError(f"{what} is empty: give a path (is a shell variable unset?)")
    return value


def _names(args: "argparse.Namespace") -> "List[str]":
    from .tiers import installed_vocabs

    return list(dict.fromkeys(args.names)) if args.names else installed_vocabs()


def cmd_path(args: "argparse.Namespace") -> int:
    """Print the path(s) of the verified vocab file(s) the lookup order selects."""
    from .lookup import resolve, restore_advice

    if args.bundled:
        from .files import check_file, describe_failure
        from .pins import get_pin
        from .tiers import bundled_dir

        pin = get_pin(args.name)
        paths = [os.path.join(bundled_dir(pin.wheel), f.name) for f in pin.files]
        for path, f in zip(paths, pin.files):
            try:
                check_file(path, f)
            except (OSError, VocabIntegrityError) as exc:
                raise VocabError(f"the packaged copy {path} is damaged ({describe_failure(exc)}): "
                                 f"{restore_advice(pin)}") from None
    else:
        paths = list(resolve(args.name).strings)
    out("".join(os.path.abspath(p) + "\n" for p in paths))
    return EXIT_OK


def cmd_resolve(args: "argparse.Namespace") -> int:
    """Run the lookup order; print the winner and every place looked at."""
    import warnings

    from .lookup import resolve

    found = failure = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the trace printed below says the same
            found = resolve(args.name, vocab_path=_given(args.vocab_path, "--vocab-path"),
                            vocab_dir=_given(args.vocab_dir, "--vocab-dir"),
                            model_dir=_given(args.model_dir, "--model-dir"), download=True if args.download else None)
    except (VocabNotFoundError, VocabIntegrityError) as exc:
        failure = exc
    paths = [os.path.abspath(p) for p in found.strings] if found else []
    attempts = (found or failure).attempts  # type: ignore[union-attr]
    error = None  # one line: an explicit choice's own failure, else a summary (the trace is printed with it)
    if isinstance(failure, VocabIntegrityError):
        error = str(failure).splitlines()[0]
    elif failure is not None:
        last = attempts[-1]  # never empty: the explicit tier is always looked at
        error = f"{last.place}: {last.outcome}" if last.tier == "explicit" else (
            f"no verified copy of the {failure.name} vocab found. {len(attempts)} places looked at: none holds it")
    if args.json:
        _json({"name": args.name, "ok": found is not None, "tier": found and found.tier, "paths": paths,
               "attempts": [{"tier": a.tier, "place": a.place, "outcome": a.outcome, "ok": a.ok} for a in attempts],
               "error": error})
    else:
        out((f"{args.name}: {found.tier} {', '.join(paths)}\n" if found else "") + "places looked at, in order:\n"
            + format_attempts(attempts) + "\n")
    if failure is not None:
        err(f"{PROG}: error: {error}")
        if not args.json and isinstance(failure, VocabNotFoundError) and failure.advice.startswith("To fix"):
            err(failure.advice)
        return EXIT_FAILED
    return EXIT_OK


def cmd_verify(args: "argparse.Namespace") -> int:
    """Check files or directories (or every place of the lookup order that is set) against the pins."""
    from .doctor import verify_paths, verify_tiers

    names = _names(args)
    checks = verify_paths([_given(p, "PATH") or "" for p in args.paths], names) if args.paths else verify_tiers(names)
    failed = [c for c in checks if c["status"] == "failed"]
    if args.json:
        _json({"ok": not failed, "checks": checks})
    else:
        out("".join(f"{c['status'].replace('failed', 'FAILED'):<7} {c['name'] or '-':<12} "
                    f"{'[' + c['tier'] + '] ' if c['tier'] else ''}{c['path']}: {c['detail']}\n" for c in checks))
    if failed:
        err(f"{PROG}: error: {len(failed)} of {len(checks)} checked failed, first {failed[0]['path']}: "
            f"{failed[0]['detail']}; replace it with a verified copy ({PROG} export DIR), or fix the setting "
            f"or path that names it")
        return EXIT_FAILED
    return EXIT_OK


def _waiting(message: str) -> None:
    err(f"{PROG}: {message}")


def cmd_export(args: "argparse.Namespace") -> int:
    """Copy verified files and a SHA256SUMS into DEST (or DEST/encodings)."""
    from .export import export

    done = export(_given(args.dest, "DEST") or "", _names(args), layout=args.layout, force=args.force,
                  waiting=_waiting)
    out("".join(f"{action:<9} {path}\n" for action, path in done))
    return EXIT_OK


def _quote(value: str, fmt: str) -> str:
    if fmt == "sh":
        import shlex

        return shlex.quote(value)
    if fmt == "fish":
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if "\n" in value or "\r" in value:
        raise UsageError(f"{value!r} holds a line break, which a Dockerfile ENV cannot carry")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


ENV_FORMATS = {"sh": "export {}={}\n", "fish": "set -gx {} {}\n", "dockerfile": "ENV {}={}\n"}


def cmd_env(args: "argparse.Namespace") -> int:
    """Print the setting that makes openai-harmony read a verified directory (checked first). It
    keeps the start-up registration and the tiktoken hook on: an operator's value is kept by both."""
    from .doctor import check
    from .pins import harmony_pin
    from .tiers import TIKTOKEN_ENCODINGS_BASE as BASE, bundled_dir, harmony_readable

    if args.json and args.format not in (None, "json"):
        raise UsageError(f"--json and --format {args.format} contradict each other (see '{PROG} env --help')")
    fmt = "json" if args.json else args.format or "sh"
    directory = os.path.abspath(_given(args.dir, "--dir") or bundled_dir())
    pin = harmony_pin()
    found = check(None, pin.name, os.path.join(directory, pin.file))
    problem = (found["detail"] if found["status"] != "ok" else
               None if harmony_readable(directory) else "not UTF-8, which openai-harmony cannot read")
    message = problem and (f"{found['path'] if os.path.isdir(directory) else directory}: {problem}; expected a "
                           f"directory holding a verified {pin.file}: fill one with '{PROG} export DIR'")
    if fmt == "json":
        _json({"ok": not problem, "directory": directory, "variables": {} if problem else {BASE: directory},
               "error": message})
    elif not problem:
        out(ENV_FORMATS[fmt].format(BASE, _quote(directory, fmt)))
    if message:
        err(f"{PROG}: error: {message}")
        return EXIT_FAILED
    return EXIT_OK


def cmd_seed_cache(args: "argparse.Namespace") -> int:
    """Write verified copies under the names tiktoken and openai-harmony look for in their caches."""
    from .openai_harmony import seed_harmony_cache
    from .pins import harmony_cached
    from .tiktoken import seed_tiktoken_cache

    names, both, failed = _names(args), args.tiktoken is None and args.harmony is None, False
    for who, seed, given in (("tiktoken", seed_tiktoken_cache, _given(args.tiktoken, "--tiktoken")),
                             ("openai-harmony", seed_harmony_cache, _given(args.harmony, "--harmony"))):
        chosen = [n for n in names if who == "tiktoken" or n in harmony_cached()]
        if given is None and not (both and chosen):
            continue
        try:
            for path in seed(given, chosen or names, waiting=_waiting):
                out(f"{who:<15} {path}\n")
        except VocabError as exc:  # each cache on its own: one refused does not stop the other
            err(f"{PROG}: error: {exc}")
            failed = True
    return EXIT_FAILED if failed else EXIT_OK


def cmd_fetch(args: "argparse.Namespace") -> int:
    """Download vocab files into our cache, verified while streaming."""
    from .download import download
    from .files import check_file
    from .pins import get_pin
    from .tiers import NO_CACHE_DIR, cache_dir

    dest = cache_dir(os.environ)
    if dest is None:
        raise UsageError(NO_CACHE_DIR)
    try:
        terminal = sys.stderr.isatty()
    except (AttributeError, ValueError, OSError):  # no stderr, or a closed one
        terminal = False
    for f in (f for name in _names(args) for f in get_pin(name).files):
        shown: "List[int]" = []

        def progress(got: int, total: int) -> None:  # on a terminal, one line rewritten as the file arrives
            if terminal:
                err(f"\r{f.name}: {got / 1e6:6.1f} / {total / 1e6:.1f} MB", "")
                shown.append(got)

        try:
            if args.force:
                raise FileNotFoundError
            check_file(os.path.join(dest, f.name), f)
        except (VocabError, OSError):
            try:
                download(f, dest, progress=progress)
            finally:
                if shown:
                    err("")  # the line ends, however the download did
        out(os.path.join(os.path.abspath(dest), f.name) + "\n")
    return EXIT_OK


def cmd_doctor(args: "argparse.Namespace") -> int:
    """One screen on this installation, the registration, and each vocab's source."""
    from .doctor import doctor_report, format_doctor

    report = doctor_report()
    _json(report) if args.json else out(format_doctor(report))
    return EXIT_OK if report["ok"] else EXIT_FAILED


class _Skipped:
    """Stands for a command other than the one being run: its arguments are not built."""

    def add_argument(self, *args: "Any", **kwargs: "Any") -> None:
        pass

    def add_mutually_exclusive_group(self) -> "_Skipped":
        return self


def build_parser(command: "Optional[str]" = None) -> "argparse.ArgumentParser":
    """The parser of ``harmony-vocab``; given a `command`, of that command alone (all its arguments and --help need)."""
    import argparse

    from . import __version__
    from .pins import VOCABS, get_pin
    from .tiers import ENV_LOCK_TIMEOUT, LOCK_TIMEOUT, subdirs_text

    class Parser(argparse.ArgumentParser):
        def _print_message(self, message: str, file: "Any" = None) -> None:
            # argparse swallows a failed write (--help into a closed pipe would exit 0)
            if message:
                out(message) if file is None or file is sys.stdout else err(message.rstrip("\n"))

        def error(self, message: str) -> "Any":
            self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")

    def vocab(value: str) -> str:
        try:
            return get_pin(value).name
        except UnknownVocabError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    raw = argparse.RawDescriptionHelpFormatter
    parser = Parser(prog=PROG, formatter_class=raw, epilog=EXIT_CODES_HELP,
                    description="Locate, check, export and seed the tiktoken vocab files behind openai-harmony and "
                                "tiktoken. Offline, except 'fetch'.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands", required=True)
    # the function of the command being run (``seed-cache``: cmd_seed_cache), None for none or an unknown one
    only = globals().get("cmd_" + command.replace("-", "_")) if command and "_" not in command else None

    def add(func: "Callable[[argparse.Namespace], int]", epilog: str = "", names: str = "", json: str = "") -> "Any":
        name, doc = func.__name__[4:].replace("_", "-"), (func.__doc__ or "").strip()
        if only not in (None, func):
            return _Skipped()
        text = (epilog + "\n\n" if epilog else "") + (f"JSON output (--json): {json}\n\n" if json else "")
        p = sub.add_parser(name, help=doc, description=doc, epilog=text + EXIT_CODES_HELP, formatter_class=raw)
        p.set_defaults(func=func)
        if names:
            p.add_argument("--name", dest="names", action="append", type=vocab, metavar="N",
                           help=f"{names} only this vocab (repeatable; default: every installed one)")
        if json:
            p.add_argument("--json", action="store_true", help="print JSON (shape below)")
        return p

    known = ", ".join(VOCABS)
    p = add(cmd_path)
    p.add_argument("name", metavar="NAME", type=vocab, help=known)
    p.add_argument("--bundled", action="store_true", help="the copy packaged in the wheel instead")
    p = add(cmd_resolve, json='{"name", "ok", "tier", "paths": [str], "attempts": [{"tier", "place", "outcome", '
                              '"ok"}], "error": str|null}')
    p.add_argument("name", metavar="NAME", type=vocab, help=known)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--vocab-path", metavar="P", help="an explicit file (must verify)")
    group.add_argument("--vocab-dir", metavar="D", help="an explicit directory holding the vocab's files")
    p.add_argument("--model-dir", metavar="M", help="a model directory or Hugging Face repo id (local hub cache)")
    p.add_argument("--download", action="store_true", help="allow a download as the last resort")
    p = add(cmd_verify, names="check", json='{"ok", "checks": [{"tier", "name", "path", "status": '
                                            '"ok"|"failed"|"absent", "detail"}]}',
            epilog=f"A directory is searched as a model directory is ({subdirs_text()}; the "
                   "files under their own names or the names the caches give them; tokenizer.json).")
    p.add_argument("paths", metavar="PATH", nargs="*", help="files or directories")
    p = add(cmd_export, names="export",
            epilog=f"All or nothing; a different file at the destination is an error unless --force. Exports into "
                   f"one directory take turns, each waiting up to ${ENV_LOCK_TIMEOUT} seconds "
                   f"(default {LOCK_TIMEOUT:g}).")
    p.add_argument("dest", metavar="DEST", help="the destination directory (created if needed)")
    p.add_argument("--layout", choices=("flat", "encodings"), default="flat",
                   help="flat: DEST/FILE; encodings: DEST/encodings/FILE (found by --model-dir DEST)")
    p.add_argument("--force", action="store_true", help="replace files that differ")
    p = add(cmd_env, json='{"ok", "directory", "variables": {"TIKTOKEN_ENCODINGS_BASE": str}, "error"}',
            epilog="The start-up registration keeps an operator's TIKTOKEN_ENCODINGS_BASE, and the tiktoken hook "
                   "stays on: eval \"$(harmony-vocab env)\" serves both tools.")
    p.add_argument("--dir", metavar="D", help="the directory (default: the bundled one)")
    p.add_argument("--format", choices=tuple(ENV_FORMATS) + ("json",), help="default: sh")
    p = add(cmd_seed_cache, names="seed",
            epilog="With neither option, both caches at their default places (TIKTOKEN_CACHE_DIR, else "
                   "DATA_GYM_CACHE_DIR, else $TMPDIR/data-gym-cache; TIKTOKEN_RS_CACHE_DIR, else "
                   "$TMPDIR/tiktoken-rs-cache); in a shared directory only into a real directory of your own.")
    p.add_argument("--tiktoken", metavar="DIR", help="tiktoken's cache directory")
    p.add_argument("--harmony", metavar="DIR", help="openai-harmony's cache directory")
    p = add(cmd_fetch, names="download",
            epilog="URLs: $HARMONY_VOCAB_BASE_URL/FILE first when set, then the pinned ones. Needs "
                   "harmony-vocab[download].")
    p.add_argument("--force", action="store_true", help="download even if a verified copy is cached")
    add(cmd_doctor, json="see the keys of the report; vocabs.NAME.openai_harmony/tiktoken.status is offline, "
                         "network, broken, not installed or not used",
        epilog="Exit 1 when an installed tool would download or fail. Where the start-up registration could not "
               "run, prints fixes that work as printed.")
    return parser


def main(argv: "Optional[Sequence[str]]" = None) -> int:
    """Run the command line `argv` (default: ``sys.argv[1:]``); return the exit code."""
    import warnings

    argv = list(sys.argv[1:] if argv is None else argv)
    if sys.stdout is None:
        err(f"{PROG}: error: standard output is closed: {PROG} prints its results there")
        return EXIT_FAILED
    if argv[:1] in (["export"], ["fetch"], ["seed-cache"]):  # the commands that write
        import signal

        for sig in ("SIGTERM", "SIGHUP"):  # die as Ctrl-C does: nothing half-written is left behind
            if hasattr(signal, sig) and signal.getsignal(getattr(signal, sig)) is signal.SIG_DFL:
                signal.signal(getattr(signal, sig), signal.default_int_handler)
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # first: one line per notice, never an error (PYTHONWARNINGS=error)
        warnings.showwarning = lambda message, *rest, **kw: err(
            str(message) if str(message).startswith(PROG) else f"{PROG}: warning: {message}")
        try:
            from .pins import get_pin

            try:  # `path NAME`, what scripts call: no parser to build (an unknown name goes to the parser)
                fast = get_pin(argv[1]).name if len(argv) == 2 and argv[0] == "path" else None
            except UnknownVocabError:
                fast = None
            if fast is not None:
                from types import SimpleNamespace

                code = cmd_path(SimpleNamespace(name=fast, bundled=False))  # type: ignore[arg-type]
            else:
                try:
                    args = build_parser(argv[0] if argv else None).parse_args(argv)
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else EXIT_USAGE
                else:
                    code = int(args.func(args))
            out("", flush=True)
            return code
        except OutputError as exc:
            if not isinstance(exc.__cause__, BrokenPipeError):  # a reader gone is no news
                err(f"{PROG}: error: {exc}")
            try:  # drop what is still buffered, so that the interpreter's exit does not try again and fail louder
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)
            except (OSError, ValueError, AttributeError):
                pass
            return EXIT_FAILED
        except (UsageError, UnknownVocabError) as exc:
            err(f"{PROG}: error: {exc}")
            return EXIT_USAGE
        except (VocabError, OSError) as exc:
            message = str(exc) if isinstance(exc, VocabError) or not exc.strerror else \
                f"{exc.filename + ': ' if exc.filename else ''}{exc.strerror}"
            err(f"{PROG}: error: {message}")
            return EXIT_FAILED
        except KeyboardInterrupt:
            err(f"{PROG}: interrupted")
            return EXIT_INTERRUPTED
