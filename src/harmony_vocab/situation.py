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

REGISTER = "harmony_vocab.register()"


@dataclass(frozen=True)
class Situation:
    """`kind`: ``frozen``, ``site`` (the .pth ran), ``no-site`` (``python -S``), ``not-site-dir``
    (``PYTHONPATH`` / ``--target``), ``zip`` or ``no-pth``; `explanation`: one sentence. Where the
    registration could not run, the fix: `shell` (a line to run before starting the program) and
    `program` (a call to put at the top of the program); both None when it ran."""

    kind: str
    explanation: str
    shell: Optional[str] = None
    program: Optional[str] = None

    @property
    def fix(self) -> Optional[str]:
        """The fix as one line of text, or None."""
        fixes = [f"{self.shell} (before starting the program)" if self.shell else "",
                 f"{self.program} at the top of the program" if self.program else ""]
        return ", or ".join(filter(None, fixes)) or None


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


def _env_line() -> str:
    return f'eval "$({shlex.quote(sys.executable or "python")} -m harmony_vocab env)"'


def registration_ran() -> bool:
    """True once ``_harmony_vocab_startup.run()`` was called in this process: by the .pth line at
    start-up or by a frozen app's runtime hook (importing the module is not enough: the package
    itself imports it)."""
    startup = sys.modules.get("_harmony_vocab_startup")
    return bool(getattr(startup, "_ran", False))


def situation(registration_ran: bool) -> Situation:
    """This process's situation; `registration_ran`: the start-up module was imported before
    the caller's own imports (by the .pth line or PyInstaller's runtime hook)."""
    if frozen():
        if registration_ran:
            return Situation("frozen", "a frozen app: harmony-vocab's PyInstaller runtime hook ran the "
                             "registration")
        return Situation("frozen", "a frozen app built without harmony-vocab's PyInstaller hooks: no "
                         "registration ran; rebuild it with harmony-vocab installed where PyInstaller runs")
    if registration_ran:
        return Situation("site", "the .pth ran at start-up")
    package = _package_dir()
    if not os.path.isdir(package):
        return Situation("zip", f"harmony_vocab is imported from a zip ({package}): Python reads no "
                         ".pth file there", program=REGISTER)
    if sys.flags.no_site:
        return Situation("no-site", "python -S: Python read no .pth file at start-up", _env_line(), REGISTER)
    parent = os.path.dirname(package)
    if os.path.realpath(parent) not in _site_dirs():
        return Situation("not-site-dir", f"harmony_vocab is imported from {parent}, which is not a site "
                         "directory (PYTHONPATH, pip install --target or --prefix): Python reads no .pth "
                         "file there", _env_line(), REGISTER)
    return Situation("no-pth", f"harmony_vocab.pth did not run (reinstall harmony-vocab from its wheel to "
                     f"put it in {parent})", _env_line(), REGISTER)


def restore_advice() -> str:
    """How to get missing packaged vocab files back, for the way this process runs."""
    if frozen():
        return ("rebuild this frozen app with harmony-vocab installed where PyInstaller runs (its hooks "
                "collect the vocab files); with another freezer, include harmony_vocab/data/*.tiktoken")
    return ("reinstall harmony-vocab from a wheel that bundles the vocab files "
            "(pip install --force-reinstall harmony-vocab)")
