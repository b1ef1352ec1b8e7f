"""Real PyInstaller one-folder builds of programs that use only unmodified openai-harmony or only
unmodified tiktoken: the frozen apps load the GPT-OSS vocab offline through harmony-vocab's hooks,
found by PyInstaller through the wheel's ``pyinstaller40`` entry point (issue 11); with that entry
point removed they fail (the controls), and harmony-vocab's own errors give advice that fits a
frozen app.

Slow (five PyInstaller builds): run by nox on the default Python only.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path
from typing import Callable, Dict, Iterator, Sequence

import pytest

from harmony_vocab.pins import PINS
from support import HARMONY_APP, HARMONY_DOWNLOAD_FAILED, clean_env, offline, run, sha256_file, venv_python

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PYINSTALLER = "pyinstaller>=6"

TIKTOKEN_APP = textwrap.dedent(
    """
    import tiktoken

    enc = tiktoken.get_encoding("o200k_base")
    print("tiktoken:", enc.name, enc.encode("Frozen, offline: ça marche."))
    """
)

# tiktoken finds its encodings by listing tiktoken_ext at run time, which PyInstaller cannot see:
# without our hooks a user names the plugin module by hand (else: "Unknown encoding o200k_base").
TIKTOKEN_PLUGIN = ("--hidden-import", "tiktoken_ext.openai_public")

# harmony-vocab's own doctor and API in an app frozen without its hooks: no vocab files in the app.
EXPLICIT_APP = textwrap.dedent(
    """
    from harmony_vocab import resolve
    from harmony_vocab.cli import main

    main(["doctor"])
    resolve("o200k_base")
    """
)


@pytest.fixture(scope="module")
def freezer(dist: Dict[str, Path], make_venv: Callable[..., Path]) -> Path:
    """A venv with the built wheel, the real openai-harmony and tiktoken, and PyInstaller."""
    return make_venv(str(dist["wheel"]), "openai-harmony==0.0.8", "tiktoken", PYINSTALLER)


@pytest.fixture
def without_our_hooks(freezer: Path) -> Iterator[Path]:
    """`freezer` with the wheel's ``pyinstaller40`` entry point removed from its installed
    metadata (put back afterwards): PyInstaller no longer finds harmony-vocab's hooks."""
    (entry_points,) = freezer.glob("lib/python*/site-packages/harmony_vocab-*.dist-info/entry_points.txt")
    original = entry_points.read_text()
    head, marker, _ = original.partition("[pyinstaller40]")
    assert marker, original
    entry_points.write_text(head)
    try:
        yield freezer
    finally:
        entry_points.write_text(original)


def freeze(venv: Path, work: Path, source: str, *options: str) -> Path:
    """``pyinstaller --onedir app.py``, as a user runs it; returns the app's executable."""
    work.mkdir()
    (work / "app.py").write_text(source)
    run([venv / "bin" / "pyinstaller", "--noconfirm", "--onedir", "--distpath", work / "dist",
         "--workpath", work / "build", "--specpath", work, *options, work / "app.py"],
        env=clean_env(work / "build-home"), cwd=work)
    return work / "dist" / "app" / "app"


def run_offline(app: Path, home: Path) -> subprocess.CompletedProcess:
    """Run the frozen app with no network, no steering variable, a fresh HOME and TMPDIR."""
    return run(offline([app]), env=clean_env(home), check=False)


@pytest.mark.parametrize(("source", "output"), [
    (HARMONY_APP, "openai-harmony: HarmonyGptOss ["),
    (TIKTOKEN_APP, "tiktoken: o200k_base ["),
], ids=["openai-harmony", "tiktoken"])
def test_frozen_app_loads_the_gpt_oss_vocab_offline(freezer: Path, tmp_path: Path, source: str, output: str) -> None:
    app = freeze(freezer, tmp_path / "frozen", source)
    for pin in PINS.values():  # the hook collected the verified vocab files the core ships
        for f in pin.files:
            copies = list(app.parent.glob(f"_internal/harmony_vocab*/data/{f.name}"))
            assert [sha256_file(c) for c in copies] == ([f.sha256] if pin.wheel == "core" else []), f.name
    proc = run_offline(app, tmp_path / "home")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The same tokens as the program run unfrozen in the venv (where the .pth registers).
    (tmp_path / "plain.py").write_text(source)
    plain = run(offline([venv_python(freezer), tmp_path / "plain.py"]), env=clean_env(tmp_path / "home-plain"))
    assert proc.stdout == plain.stdout and proc.stdout.startswith(output)


@pytest.mark.parametrize(("source", "options", "failure"), [
    (HARMONY_APP, (), HARMONY_DOWNLOAD_FAILED),
    (TIKTOKEN_APP, TIKTOKEN_PLUGIN, "Failed to resolve 'openaipublic.blob.core.windows.net'"),
], ids=["openai-harmony", "tiktoken"])
def test_control_frozen_without_our_hooks_the_app_downloads_and_fails(
        without_our_hooks: Path, tmp_path: Path, source: str, options: Sequence[str], failure: str) -> None:
    app = freeze(without_our_hooks, tmp_path / "frozen", source, *options)
    assert not list(app.parent.glob("_internal/harmony_vocab"))
    proc = run_offline(app, tmp_path / "home")
    assert proc.returncode != 0
    assert failure in proc.stderr, proc.stderr


def test_frozen_app_without_the_vocab_advises_a_rebuild_not_pip(without_our_hooks: Path, tmp_path: Path) -> None:
    """doctor names the freezer; the error names PyInstaller's way to get the files in."""
    app = freeze(without_our_hooks, tmp_path / "frozen", EXPLICIT_APP)
    proc = run_offline(app, tmp_path / "home")
    assert proc.returncode != 0
    assert "start-up registration: a frozen app built by PyInstaller" in proc.stdout, proc.stdout
    assert "VocabNotFoundError" in proc.stderr, proc.stderr
    assert "frozen by PyInstaller" in proc.stderr and "installed where PyInstaller runs" in proc.stderr
    assert "pip install" not in proc.stderr
