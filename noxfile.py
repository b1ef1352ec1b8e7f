"""The test suite on the default Python and on the oldest and newest supported ones; the slow
tests (marked ``slow``) on the default Python only.

    python -m pip install nox && HARMONY_VOCAB_SOURCE_DIR=../shared/vocab python -m nox

pyenv-installed interpreters are found even when they are not on PATH. Extra arguments after
``--`` go to pytest (``python -m nox -- -k cli``). The session venvs live in the checkout's
``.nox/``, a cache git ignores, and are reused, so a run leaves nothing outside the checkout but
what pytest keeps of failed tests. An interpreter that is absent is reported as skipped.
"""

from __future__ import annotations

import glob
import os
import sys

import nox

DEFAULT = f"{sys.version_info[0]}.{sys.version_info[1]}"
PYTHONS = sorted({"3.9", DEFAULT, "3.13"}, key=lambda v: tuple(map(int, v.split("."))))

# Make pyenv's interpreters visible to nox (python3.9, python3.13...) without activating them.
_pyenv = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
_bins = [
    path
    for version in PYTHONS
    for path in sorted(glob.glob(os.path.join(_pyenv, "versions", f"{version}.*", "bin")))[-1:]
]
os.environ["PATH"] = os.pathsep.join([*_bins, os.environ.get("PATH", "")])


nox.options.sessions = ["tests"]
# Reused from run to run (the install step still runs, so a changed tree is picked up): one set of
# venvs per checkout, not one per run.
nox.options.reuse_existing_virtualenvs = True
# A machine with one Python runs the suite on it: the interpreters it lacks are reported as
# skipped, not as errors, on CI too (where every one that exists still runs).
nox.options.error_on_missing_interpreters = False


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Install the project (editable, with its test extra) and run pytest."""
    if not os.environ.get("HARMONY_VOCAB_SOURCE_DIR") and not os.environ.get("HARMONY_VOCAB_BASE_URL"):
        session.warn("neither HARMONY_VOCAB_SOURCE_DIR nor HARMONY_VOCAB_BASE_URL is set: "
                     "the build will try the canonical URLs")
    session.install("-e", ".[test]")
    # The slow tests (real PyInstaller builds) run on the default Python only.
    only_fast = [] if session.python == DEFAULT else ["-m", "not slow"]
    session.run("python", "-m", "pytest", *only_fast, *session.posargs)
