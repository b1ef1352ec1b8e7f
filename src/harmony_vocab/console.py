"""How ``harmony-vocab`` talks to its caller: results on stdout, one-line errors on stderr, exit
codes. `run` turns a command's expected failures into one line and an exit code; a stdout that
is closed or cannot be written (a full disk) is such a failure too, and a closed stderr is
silence, never a traceback."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:  # pragma: no cover
    import argparse

PROG = "harmony-vocab"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

STDOUT_CLOSED = (f"standard output is closed: {PROG} prints its results there; run it with stdout "
                 f"open (redirect it to /dev/null to discard them)")


class UsageError(Exception):
    """A command line that cannot be carried out as given (exit 2)."""


class OutputError(Exception):
    """Standard output cannot take a command's result: closed, a full disk, a reader gone."""


class Output:
    """Standard output as the commands print to it: a failed write raises `OutputError`."""

    def __init__(self, stream: Optional[IO[str]]) -> None:
        self.stream = stream  # None: the process was started with stdout closed

    def write(self, text: str) -> None:
        self._do("write", text)

    def flush(self) -> None:
        self._do("flush")

    def _do(self, method: str, *arg: str) -> None:
        if self.stream is None:
            raise OutputError(STDOUT_CLOSED)
        try:
            getattr(self.stream, method)(*arg)
        except (OSError, ValueError) as exc:  # ValueError: a closed file object
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise OutputError(f"cannot write to standard output: {reason}") from exc


class Messages:
    """Standard error as the commands report to it. A closed or failing stderr swallows the
    message (there is nowhere else to say it): it never turns into a traceback."""

    def __init__(self, stream: Optional[IO[str]]) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        try:
            if self.stream is not None:
                self.stream.write(text)
        except (OSError, ValueError):
            pass

    def flush(self) -> None:
        try:
            if self.stream is not None:
                self.stream.flush()
        except (OSError, ValueError):
            pass

    def isatty(self) -> bool:
        try:
            return self.stream is not None and self.stream.isatty()
        except (OSError, ValueError, AttributeError):
            return False


@dataclass
class Io:
    """Where a command prints its result (`out`) and its messages (`err`)."""

    out: Output
    err: Messages


def print_json(data: Any, out: Output) -> None:
    import json

    out.write(json.dumps(data, indent=2) + "\n")


def error(message: str, err: Messages) -> None:
    """The one line of an error: ``harmony-vocab: error: MESSAGE``."""
    err.write(f"{PROG}: error: {message}\n")


def describe_exception(exc: BaseException) -> str:
    """The message of an expected failure, with what to do when the exception does not say it."""
    from .errors import VocabIntegrityError

    if isinstance(exc, VocabIntegrityError):
        return f"{exc}; replace it with a verified copy ({PROG} export, or {PROG} fetch)"
    if isinstance(exc, OSError) and not hasattr(exc, "attempts") and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    return str(exc)


Command = Callable[["argparse.Namespace", Io], int]


def run(command: Command, args: "argparse.Namespace", io: Io) -> int:
    """Run `command`; an expected failure becomes one line on stderr and its exit code."""
    import warnings

    from .errors import UnknownVocabError, VocabError

    def show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                     line: Any = None) -> None:
        text = str(message)
        io.err.write((text if text.startswith(f"{PROG}:") else f"{PROG}: warning: {text}") + "\n")

    with warnings.catch_warnings():
        warnings.showwarning = show_warning  # one line, no source excerpt
        try:
            return finish(io, int(command(args, io)))
        except OutputError as exc:
            return output_failed(io, exc)
        except (UsageError, UnknownVocabError) as exc:
            error(describe_exception(exc), io.err)
            return EXIT_USAGE
        except (VocabError, OSError) as exc:
            error(describe_exception(exc), io.err)
            return EXIT_FAILED
        except KeyboardInterrupt:
            io.err.write(f"{PROG}: interrupted\n")
            return EXIT_INTERRUPTED


def finish(io: Io, code: int) -> int:
    """`code`, once everything printed has reached stdout; else the write error's one line, 1."""
    try:
        io.out.flush()
    except OutputError as exc:
        return output_failed(io, exc)
    return code


def output_failed(io: Io, exc: OutputError) -> int:
    """Report a stdout that cannot be written (a reader that went away is not news), and drop
    what is still buffered, so that the interpreter's exit does not try again and fail louder."""
    if not isinstance(exc.__cause__, BrokenPipeError):
        error(str(exc), io.err)
    try:
        fd = io.out.stream.fileno() if io.out.stream is not None else -1
        if fd >= 0:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (a test's StringIO)
        pass
    return EXIT_FAILED
