"""The package ships py.typed: its own annotations must hold (mypy --strict, as configured in
pyproject.toml), or users' type checkers would be fed wrong types."""

from __future__ import annotations

import subprocess
import sys

import pytest

from support import ROOT

mypy = pytest.importorskip("mypy", reason="mypy is in the test extra")


def test_mypy_strict_passes_on_the_package_and_build_hook() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
