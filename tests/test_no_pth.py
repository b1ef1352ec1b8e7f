"""Where Python reads no ``.pth`` file (issue 11): a ``pip install --target`` directory on
``PYTHONPATH``, ``python -S``, a zipapp. ``doctor`` names the situation and its fix, and exits 1
when an installed openai-harmony would therefore download; the program fails offline as it is (the
control) and works once the printed fix is applied."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Callable, Dict, Sequence, Tuple

import pytest

from support import HARMONY_APP, HARMONY_DOWNLOAD_FAILED, clean_env, offline, run, venv_python

pytestmark = pytest.mark.integration

WORKS = "openai-harmony: HarmonyGptOss ["


@pytest.fixture(scope="module")
def harmony_only(make_venv: Callable[..., Path]) -> Path:
    """A venv with the real openai-harmony and no harmony-vocab (so no .pth of ours)."""
    return make_venv("openai-harmony==0.0.8")


def target_install(python: Path, wheel: Path, target: Path) -> Path:
    """``pip install --target`` of the built wheel."""
    run([python, "-m", "pip", "install", "-q", "--no-deps", "--target", target, wheel])
    return target


def doctor(cmd: Sequence[object], env: Dict[str, str]) -> Tuple[subprocess.CompletedProcess, Dict[str, object]]:
    """``doctor`` (text) and ``doctor --json``'s situation, run offline; the exit codes must agree."""
    text = run(offline([*cmd, "-m", "harmony_vocab", "doctor"]), env=env, check=False)
    data = run(offline([*cmd, "-m", "harmony_vocab", "doctor", "--json"]), env=env, check=False)
    assert text.returncode == data.returncode, text.stdout + data.stdout
    return text, json.loads(data.stdout)["situation"]


def offline_shell(script: str, env: Dict[str, str]) -> subprocess.CompletedProcess:
    return run(offline(["bash", "-euo", "pipefail", "-c", script]), env=env, check=False)


def assert_fix_applies(situation: Dict[str, object], program: str, env: Dict[str, str]) -> None:
    """The program fails offline as it is; with the printed shell line run first, it works, and
    doctor is content."""
    fix = situation["fix_shell"]
    assert isinstance(fix, str) and fix.startswith('eval "$(')
    assert situation["fix_program"] == "harmony_vocab.register()"
    failed = offline_shell(program, env)
    assert failed.returncode != 0 and HARMONY_DOWNLOAD_FAILED in failed.stderr, failed.stderr
    fixed = offline_shell(f"{fix}\n{program}", env)
    assert fixed.returncode == 0 and fixed.stdout.startswith(WORKS), fixed.stdout + fixed.stderr


def test_target_install_on_pythonpath(dist: Dict[str, Path], harmony_only: Path, make_venv: Callable[..., Path],
                                      tmp_path: Path) -> None:
    target = target_install(venv_python(harmony_only), dist["wheel"], tmp_path / "target")
    (tmp_path / "app.py").write_text(HARMONY_APP)
    python = venv_python(harmony_only)
    env = clean_env(tmp_path / "home", PYTHONPATH=str(target))
    text, situation = doctor([python], env)
    assert text.returncode == 1, text.stdout + text.stderr
    assert situation["kind"] == "not-site-dir"
    assert f"harmony_vocab is imported from {target}, which is not a site directory" in text.stdout
    assert f"  fix: {situation['fix_shell']} (before starting the program)" in text.stdout
    assert_fix_applies(situation, f"{python} {tmp_path / 'app.py'}", env)
    fixed = offline_shell(f"{situation['fix_shell']}\n{python} -m harmony_vocab doctor", env)
    assert fixed.returncode == 0, fixed.stdout
    # Without openai-harmony nothing would download: the situation is named, the exit code is 0.
    bare = venv_python(make_venv())
    text, situation = doctor([bare], env)
    assert text.returncode == 0 and situation["kind"] == "not-site-dir", text.stdout
    assert "  fix: eval" in text.stdout


def test_python_dash_capital_s(full_venv: Path, tmp_path: Path) -> None:
    (site_packages,) = full_venv.glob("lib/python*/site-packages")
    (tmp_path / "app.py").write_text(HARMONY_APP)
    python = venv_python(full_venv)
    env = clean_env(tmp_path / "home", PYTHONPATH=str(site_packages))
    text, situation = doctor([python, "-S"], env)
    assert text.returncode == 1, text.stdout + text.stderr
    assert situation["kind"] == "no-site" and "python -S: Python read no .pth file" in text.stdout
    assert_fix_applies(situation, f"{python} -S {tmp_path / 'app.py'}", env)


def test_zipapp(dist: Dict[str, Path], harmony_only: Path, tmp_path: Path) -> None:
    python = venv_python(harmony_only)

    def zipapp(name: str, main: str) -> Path:
        source = target_install(python, dist["wheel"], tmp_path / name)
        (source / "__main__.py").write_text(main)
        run([python, "-m", "zipapp", source, "-o", tmp_path / f"{name}.pyz"])
        return tmp_path / f"{name}.pyz"

    app = zipapp("app", HARMONY_APP)
    env = clean_env(tmp_path / "home")
    text, situation = doctor([python], {**env, "PYTHONPATH": str(app)})
    assert text.returncode == 1, text.stdout + text.stderr
    assert situation["kind"] == "zip" and situation["fix_shell"] is None
    assert f"harmony_vocab is imported from a zip ({app}" in text.stdout
    assert "  fix: harmony_vocab.register() at the top of the program" in text.stdout
    failed = run(offline([python, app]), env=env, check=False)
    assert failed.returncode != 0 and HARMONY_DOWNLOAD_FAILED in failed.stderr, failed.stderr
    fixed_app = zipapp("fixed", f"import harmony_vocab\n{situation['fix_program']}\n{HARMONY_APP}")
    fixed = run(offline([python, fixed_app]), env=env, check=False)
    assert fixed.returncode == 0 and fixed.stdout.startswith(WORKS), fixed.stdout + fixed.stderr


def test_register_at_the_top_also_serves_tiktoken(full_venv: Path, tmp_path: Path) -> None:
    """The printed program fix, harmony_vocab.register(), installs the tiktoken hook as well: under
    python -S an unmodified tiktoken.get_encoding then works offline (before or after
    tiktoken.load is imported); without it, it downloads and fails."""
    (site_packages,) = full_venv.glob("lib/python*/site-packages")
    env = clean_env(tmp_path / "home", PYTHONPATH=str(site_packages))
    load = "import tiktoken; print(tiktoken.get_encoding('cl100k_base').encode('hello world'))"
    python = venv_python(full_venv)
    failed = run(offline([python, "-S", "-c", load]), env=env, check=False)
    assert failed.returncode != 0 and "ConnectionError" in failed.stderr
    for code in (f"import harmony_vocab; harmony_vocab.register(); {load}",
                 f"import tiktoken.load, harmony_vocab; harmony_vocab.register(); {load}"):
        fixed = run(offline([python, "-S", "-c", code]), env=env, check=False)
        assert (fixed.returncode, fixed.stdout.strip()) == (0, "[15339, 1917]"), fixed.stderr
