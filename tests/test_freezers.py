"""Frozen apps beyond PyInstaller (issue 16, item 4): real cx_Freeze and Nuitka builds of
programs that use openai-harmony or tiktoken, run offline (``unshare -n``, fresh HOME and TMPDIR).

Neither freezer reads hooks or configuration shipped by a third-party package, so the documented
step is one line at the top of the program, ``import harmony_vocab; harmony_vocab.register()``,
plus Nuitka's ``--include-package-data=harmony_vocab`` (README, "Frozen apps"). Each claim has its
control: the plain build of the same program fails offline.

cx_Freeze builds take seconds: they run with the other slow tests. A Nuitka standalone build takes
10-30 minutes: those tests (marker ``nuitka``) are skipped unless selected with
``python -m pytest -m nuitka``; each build prints its wall time (``-rP`` shows it).
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Callable, Dict

import pytest

from support import HARMONY_APP, HARMONY_DOWNLOAD_FAILED, clean_env, offline, run, venv_python

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TIKTOKEN_APP = textwrap.dedent(
    """
    import tiktoken

    print("tiktoken:", tiktoken.get_encoding("cl100k_base").encode("Frozen, offline: ça marche."))
    """
)
# What tiktoken says when it has to download the vocab and cannot.
TIKTOKEN_DOWNLOAD_FAILED = "Failed to resolve 'openaipublic.blob.core.windows.net'"
# The documented step.
REGISTER = "import harmony_vocab; harmony_vocab.register()\n"

# Prints where the frozen app finds the vocab files: the package's data and the registration.
WHERE_APP = textwrap.dedent(
    """
    import harmony_vocab

    print("bundled_dir:", harmony_vocab.bundled_dir())
    print("register:", harmony_vocab.register())
    """
)
# A registration that may fail (its error goes to stderr), then `harmony-vocab doctor` in the app.
DOCTOR_APP = textwrap.dedent(
    """
    import sys
    import harmony_vocab

    try:
        harmony_vocab.register()
    except Exception as exc:
        print("register failed:", type(exc).__name__, exc, file=sys.stderr)
    from harmony_vocab.cli import main

    sys.exit(main(["doctor"]))
    """
)
NEVER = ("pip install", "reinstall", "PyInstaller")  # advice that cannot help in these apps


def run_offline(app: Path, home: Path) -> subprocess.CompletedProcess:
    return run(offline([app]), env=clean_env(home), check=False)


def unfrozen(venv: Path, tmp_path: Path, source: str) -> str:
    """The program's output run by the venv's Python (where the start-up registration runs), offline."""
    script = tmp_path / "plain.py"
    script.write_text(source)
    return run(offline([venv_python(venv), script]), env=clean_env(tmp_path / "home-plain")).stdout


def register_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("register failed:")]
    assert lines, stderr
    return stderr[stderr.index(lines[0]):]


# ----------------------------------------------------------------------------------- cx_Freeze


@pytest.fixture(scope="module")
def cx_venv(dist: Dict[str, Path], make_venv: Callable[..., Path]) -> Path:
    return make_venv(str(dist["wheel"]), "openai-harmony==0.0.8", "tiktoken", "cx_Freeze>=7")


def cxfreeze(venv: Path, work: Path, source: str, *options: str) -> Path:
    """``cxfreeze --script app.py`` as a user runs it, in a directory of its own (cx_Freeze reads a
    pyproject.toml in the current directory); returns the frozen executable."""
    work.mkdir()
    (work / "app.py").write_text(source)
    run([venv / "bin" / "cxfreeze", "--script", "app.py", "--target-dir", "dist", *options],
        env=clean_env(work / "build-home"), cwd=work)
    return work / "dist" / "app"


PROGRAMS = pytest.mark.parametrize(("source", "failure"), [
    (HARMONY_APP, HARMONY_DOWNLOAD_FAILED), (TIKTOKEN_APP, TIKTOKEN_DOWNLOAD_FAILED),
], ids=["openai-harmony", "tiktoken"])


@PROGRAMS
def test_cx_freeze_control_plain_build_fails_offline(cx_venv: Path, tmp_path: Path, source: str,
                                                     failure: str) -> None:
    app = cxfreeze(cx_venv, tmp_path / "frozen", source)
    proc = run_offline(app, tmp_path / "home")
    assert proc.returncode != 0
    assert failure in proc.stderr, proc.stderr


@PROGRAMS
def test_cx_freeze_register_line_loads_offline(cx_venv: Path, tmp_path: Path, source: str, failure: str) -> None:
    app = cxfreeze(cx_venv, tmp_path / "frozen", REGISTER + source)  # the documented step: no option
    proc = run_offline(app, tmp_path / "home")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == unfrozen(cx_venv, tmp_path, source)


def test_cx_freeze_register_finds_the_data_where_cx_freeze_put_it(cx_venv: Path, tmp_path: Path) -> None:
    app = cxfreeze(cx_venv, tmp_path / "frozen", WHERE_APP)
    data = app.parent / "lib" / "harmony_vocab" / "data"  # cx_Freeze writes packages under lib/
    assert sorted(p.name for p in data.glob("*.tiktoken")) == ["cl100k_base.tiktoken", "o200k_base.tiktoken"]
    proc = run_offline(app, tmp_path / "home")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == [f"bundled_dir: {data}", f"register: {data}"]


def test_cx_freeze_zipped_package_error_names_cx_freeze_option(cx_venv: Path, tmp_path: Path) -> None:
    # Every package in library.zip: cx_Freeze does not put package data into the zip.
    app = cxfreeze(cx_venv, tmp_path / "frozen", DOCTOR_APP, "--packages=harmony_vocab",
                   "--zip-include-packages=*", "--zip-exclude-packages=")
    proc = run_offline(app, tmp_path / "home")
    error = register_error(proc.stderr)
    assert error.startswith("register failed: VocabNotFoundError"), error
    assert "--zip-exclude-packages=harmony_vocab" in error  # the fix, in cx_Freeze's own words
    assert not [words for words in NEVER if words in error], error
    assert "cx_Freeze" in proc.stdout, proc.stdout  # doctor names the freezer...
    assert "--zip-exclude-packages=harmony_vocab" in proc.stdout  # ...and prints the same fix
    assert not [words for words in NEVER if words in proc.stdout], proc.stdout
    assert proc.returncode != 0


def test_cx_freeze_the_printed_fix_works(cx_venv: Path, tmp_path: Path) -> None:
    # The fix above, as printed: the rest of the app stays zipped.
    app = cxfreeze(cx_venv, tmp_path / "frozen", REGISTER + HARMONY_APP,
                   "--zip-include-packages=*", "--zip-exclude-packages=harmony_vocab")
    assert (app.parent / "lib" / "library.zip").is_file()
    proc = run_offline(app, tmp_path / "home")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == unfrozen(cx_venv, tmp_path, HARMONY_APP)


def test_cx_freeze_doctor_names_cx_freeze(cx_venv: Path, tmp_path: Path) -> None:
    app = cxfreeze(cx_venv, tmp_path / "frozen", DOCTOR_APP, "--packages=harmony_vocab")
    proc = run_offline(app, tmp_path / "home")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "register failed" not in proc.stderr
    assert "a frozen app built by cx_Freeze" in proc.stdout, proc.stdout
    assert not [words for words in NEVER if words in proc.stdout], proc.stdout


# -------------------------------------------------------------------------------------- Nuitka
# Three standalone builds sharing one compiler cache (the first is cold). Not run by default.


def nuitka_selected(config: pytest.Config) -> bool:
    expr = str(config.getoption("markexpr") or "")
    return "nuitka" in expr and "not nuitka" not in expr


@pytest.fixture(scope="module")
def nuitka_venv(request: pytest.FixtureRequest, make_venv: Callable[..., Path]) -> Path:
    if not nuitka_selected(request.config):
        pytest.skip("a Nuitka build takes 10-30 min: run with python -m pytest -m nuitka")
    if shutil.which("cc") is None or shutil.which("patchelf") is None:
        pytest.skip("Nuitka needs a C compiler and patchelf")
    dist = request.getfixturevalue("dist")  # built only when the Nuitka tests run
    return make_venv(str(dist["wheel"]), "openai-harmony==0.0.8", "tiktoken", "nuitka>=2")


@pytest.fixture(scope="module")
def nuitka_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nuitka-cache")


def nuitka(venv: Path, cache: Path, work: Path, source: str, *options: str) -> Path:
    """``python -m nuitka --standalone app.py``; returns the frozen executable."""
    work.mkdir()
    (work / "app.py").write_text(source)
    start = time.monotonic()
    run([venv_python(venv), "-m", "nuitka", "--standalone", "--assume-yes-for-downloads", "--output-dir=out",
         *options, "app.py"], env=clean_env(work / "build-home", NUITKA_CACHE_DIR=str(cache)), cwd=work,
        timeout=3 * 3600)
    print(f"nuitka build {' '.join(options) or '(no option)'}: {time.monotonic() - start:.0f} s")
    return work / "out" / "app.dist" / "app.bin"


@pytest.mark.nuitka
def test_nuitka_documented_step_loads_offline(nuitka_venv: Path, nuitka_cache: Path, tmp_path: Path) -> None:
    # One build for both tools (tiktoken first: openai-harmony's load must not depend on it).
    source = REGISTER + WHERE_APP + TIKTOKEN_APP + HARMONY_APP
    app = nuitka(nuitka_venv, nuitka_cache, tmp_path / "frozen", source, "--include-package-data=harmony_vocab")
    data = app.parent / "harmony_vocab" / "data"
    proc = run_offline(app, tmp_path / "home")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines(keepends=True)
    assert lines[:2] == [f"bundled_dir: {data}\n", f"register: {data}\n"]
    assert "".join(lines[2:]) == unfrozen(nuitka_venv, tmp_path, TIKTOKEN_APP + HARMONY_APP)


@pytest.mark.nuitka
def test_nuitka_control_plain_build_fails_offline(nuitka_venv: Path, nuitka_cache: Path, tmp_path: Path) -> None:
    # Each tool on its own: the first failure must not hide the second.
    source = textwrap.dedent(
        """
        import traceback

        try:
        %s
        except Exception:
            traceback.print_exc()
        try:
        %s
        except Exception:
            traceback.print_exc()
        """
    ) % (textwrap.indent(TIKTOKEN_APP, "    "), textwrap.indent(HARMONY_APP, "    "))
    app = nuitka(nuitka_venv, nuitka_cache, tmp_path / "frozen", source)
    proc = run_offline(app, tmp_path / "home")
    assert "tiktoken:" not in proc.stdout and "openai-harmony:" not in proc.stdout, proc.stdout
    assert TIKTOKEN_DOWNLOAD_FAILED in proc.stderr and HARMONY_DOWNLOAD_FAILED in proc.stderr, proc.stderr


@pytest.mark.nuitka
def test_nuitka_without_the_data_option_error_names_it(nuitka_venv: Path, nuitka_cache: Path,
                                                       tmp_path: Path) -> None:
    # harmony_vocab's modules are compiled in (for doctor), its data files are not.
    app = nuitka(nuitka_venv, nuitka_cache, tmp_path / "frozen", DOCTOR_APP, "--include-package=harmony_vocab")
    assert not list(app.parent.glob("harmony_vocab/data/*.tiktoken"))
    proc = run_offline(app, tmp_path / "home")
    error = register_error(proc.stderr)
    assert error.startswith("register failed: VocabNotFoundError"), error
    assert "--include-package-data=harmony_vocab" in error  # Nuitka's own option
    assert not [words for words in NEVER if words in error], error
    assert "a frozen app built by Nuitka" in proc.stdout, proc.stdout  # doctor names the freezer
    assert "--include-package-data=harmony_vocab" in proc.stdout
    assert not [words for words in NEVER if words in proc.stdout], proc.stdout
    assert proc.returncode != 0
