"""Whether the start-up registration could run in this process, why not, and what fixes it.

Python reads ``harmony_vocab.pth`` only in a site directory, at start-up: not with ``python -S``,
not in a directory merely on ``PYTHONPATH`` (``pip install --target`` / ``--prefix``), not inside
a zip (a zipapp). A PyInstaller app runs the registration from harmony-vocab's runtime hook.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from typing import Optional

REGISTER_FIX = "call harmony_vocab.register() at the top of the program"


@dataclass(frozen=True)
class Situation:
    """`kind`: ``frozen``, ``site`` (the .pth ran), ``no-site`` (``python -S``), ``not-site-dir``
    (``PYTHONPATH`` / ``--target``), ``zip`` or ``no-pth``; `explanation`: one sentence; `fix`: the
    one line that makes openai-harmony find the vocab, None when the registration ran."""

    kind: str
    explanation: str
    fix: Optional[str]


def frozen() -> bool:
    """True in an app built by a freezer (PyInstaller, cx_Freeze), which sets ``sys.frozen``."""
    return bool(getattr(sys, "frozen", False))


def _package_dir() -> str:
    import harmony_vocab

    return os.path.dirname(os.path.abspath(harmony_vocab.__file__))


def _site_dirs() -> "set[str]":
    """The directories whose .pth files site reads (or would read) at start-up."""
    import site

    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return {os.path.realpath(d) for d in dirs}


def _env_fix() -> str:
    python = shlex.quote(sys.executable or "python")
    return f'eval "$({python} -m harmony_vocab env)" before starting the program, or {REGISTER_FIX}'


def situation(registration_ran: bool) -> Situation:
    """This process's situation; `registration_ran`: the start-up module was imported before
    the caller's own imports (by the .pth line or PyInstaller's runtime hook)."""
    if frozen():
        if registration_ran:
            return Situation("frozen", "a frozen app: harmony-vocab's PyInstaller runtime hook ran the "
                             "registration", None)
        return Situation("frozen", "a frozen app built without harmony-vocab's PyInstaller hooks: no "
                         "registration ran", f"rebuild it with harmony-vocab installed where PyInstaller "
                         f"runs, or {REGISTER_FIX}")
    if registration_ran:
        return Situation("site", "the .pth ran at start-up", None)
    package = _package_dir()
    if not os.path.isdir(package):
        return Situation("zip", f"harmony_vocab is imported from a zip ({package}): Python reads no "
                         ".pth file there", REGISTER_FIX)
    if sys.flags.no_site:
        return Situation("no-site", "python -S: Python read no .pth file at start-up", _env_fix())
    parent = os.path.dirname(package)
    if os.path.realpath(parent) not in _site_dirs():
        return Situation("not-site-dir", f"harmony_vocab is imported from {parent}, which is not a site "
                         "directory (PYTHONPATH, pip install --target or --prefix): Python reads no .pth "
                         "file there", _env_fix())
    return Situation("no-pth", f"harmony_vocab.pth did not run (is it in {parent}?)",
                     f"reinstall harmony-vocab from its wheel, or {_env_fix()}")


def restore_advice() -> str:
    """How to get missing packaged vocab files back, for the way this process runs."""
    if frozen():
        return ("rebuild this frozen app with harmony-vocab installed where PyInstaller runs (its hooks "
                "collect the vocab files); with another freezer, include harmony_vocab/data/*.tiktoken")
    return ("reinstall harmony-vocab from a wheel that bundles the vocab files "
            "(pip install --force-reinstall harmony-vocab)")
