"""Where Python reads no ``.pth`` file (issues 11 and 16): a ``pip install --target`` directory on
``PYTHONPATH``, ``python -S``, a zipapp. ``doctor`` names the situation, exits 1 when an installed
tool would download, and every fix it prints works as printed, run literally: an unmodified program
using openai-harmony and tiktoken fails offline as it is (the control) and loads, offline, what
each fix says it serves."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Set, Tuple

import pytest

from support import HARMONY_APP, HARMONY_DOWNLOAD_FAILED, clean_env, offline, run, venv_python

pytestmark = pytest.mark.integration

WORKS = "openai-harmony: HarmonyGptOss ["

# An unmodified program using both tools: what each loads ("ok" or the exception's type).
APP = """\
import json
out = {}
try:
    from openai_harmony import HarmonyEncodingName, load_harmony_encoding
    load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)
    out["openai-harmony"] = "ok"
except Exception as exc:
    out["openai-harmony"] = type(exc).__name__
import tiktoken
for name in ("o200k_base", "cl100k_base"):
    try:
        tiktoken.get_encoding(name).encode("hello world")
        out["tiktoken/" + name] = "ok"
    except Exception as exc:
        out["tiktoken/" + name] = type(exc).__name__
print(json.dumps(out))
"""
HARMONY = {"openai-harmony"}
TIKTOKEN = {"tiktoken/o200k_base", "tiktoken/cl100k_base"}


@pytest.fixture(scope="module")
def tools_only(make_venv: Callable[..., Path]) -> Path:
    """A venv with the real openai-harmony and tiktoken and no harmony-vocab (so no .pth of ours)."""
    return make_venv("openai-harmony==0.0.8", "tiktoken")


def target_install(python: Path, wheel: Path, target: Path) -> Path:
    """``pip install --target`` of the built wheel."""
    run([python, "-m", "pip", "install", "-q", "--no-deps", "--target", target, wheel])
    return target


def doctor(cmd: Sequence[object], env: Dict[str, str]) -> Tuple[subprocess.CompletedProcess, Dict[str, object]]:
    """``doctor`` (text) and ``doctor --json``, run offline; the exit codes must agree."""
    text = run(offline([*cmd, "-m", "harmony_vocab", "doctor"]), env=env, check=False)
    data = run(offline([*cmd, "-m", "harmony_vocab", "doctor", "--json"]), env=env, check=False)
    assert text.returncode == data.returncode, text.stdout + data.stdout
    report = json.loads(data.stdout)
    for fix in report["fixes"]:  # what --json gives is what is printed
        assert f"  fix: {fix}\n" in text.stdout
    return text, report


def offline_shell(script: str, env: Dict[str, str]) -> subprocess.CompletedProcess:
    return run(offline(["bash", "-euo", "pipefail", "-c", script]), env=env, check=False)


def loaded(proc: subprocess.CompletedProcess) -> Set[str]:
    """What the APP program loaded offline."""
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {k for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items() if v == "ok"}


def printed_fixes(fixes: List[str], work: Path) -> Dict[str, str]:
    """The printed fixes, as run literally: ``{"program": the line for the top of a program,
    "openai-harmony": a shell line, "tiktoken": shell lines}`` (the one placeholder, DIR, a
    directory of the user's own, here `work`/cache)."""
    out: Dict[str, str] = {}
    for fix in fixes:
        top = re.fullmatch(r"`(import harmony_vocab; harmony_vocab\.register\(\))` at the top of the program, "
                           r"at module level \(serves both tools\)", fix)
        harmony = re.fullmatch(r"for openai-harmony: (eval \"\$\(.*\)\") before starting the program", fix)
        tiktoken = re.fullmatch(r"for tiktoken: (.*), then (export TIKTOKEN_CACHE_DIR=DIR) \(a directory of yours\) "
                                r"before starting the program", fix)
        if top:
            out["program"] = top.group(1)
        elif harmony:
            out["openai-harmony"] = harmony.group(1)
        elif tiktoken:
            mine = shlex.quote(str(work / "cache"))
            out["tiktoken"] = "\n".join(re.sub(r"\bDIR\b", mine, line) for line in tiktoken.groups())
        else:
            raise AssertionError(f"a fix this test does not know how to run: {fix!r}")
    assert set(out) == {"program", "openai-harmony", "tiktoken"}, fixes
    return out


def assert_every_fix_works_as_printed(report: Dict[str, object], run_app: str, python_flags: str,
                                      env: Dict[str, str], work: Path) -> None:
    """Run APP as `run_app` (a shell command taking the program's path) without a fix (nothing
    loads), with each printed fix alone (what it serves loads), and with both shell fixes, after
    which doctor is content."""
    fixes = printed_fixes(report["fixes"], work)  # type: ignore[arg-type]
    (work / "app.py").write_text(APP)
    (work / "fixed.py").write_text(f"{fixes['program']}\n{APP}")
    app, fixed = shlex.quote(str(work / "app.py")), shlex.quote(str(work / "fixed.py"))
    control = offline_shell(f"{run_app} {app}", env)
    assert loaded(control) == set(), control.stdout
    assert loaded(offline_shell(f"{run_app} {fixed}", env)) == HARMONY | TIKTOKEN
    assert loaded(offline_shell(f"{fixes['openai-harmony']}\n{run_app} {app}", env)) == HARMONY
    assert loaded(offline_shell(f"{fixes['tiktoken']}\n{run_app} {app}", env)) == TIKTOKEN
    both = f"{fixes['openai-harmony']}\n{fixes['tiktoken']}\n"
    assert loaded(offline_shell(f"{both}{run_app} {app}", env)) == HARMONY | TIKTOKEN
    content = offline_shell(f"{both}{run_app.split(' ')[0]} {python_flags} -m harmony_vocab doctor", env)
    assert content.returncode == 0 and "\nok: " in content.stdout, content.stdout + content.stderr


def test_target_install_on_pythonpath(dist: Dict[str, Path], tools_only: Path, make_venv: Callable[..., Path],
                                      tmp_path: Path) -> None:
    python = venv_python(tools_only)
    target = target_install(python, dist["wheel"], tmp_path / "target")
    env = clean_env(tmp_path / "home", PYTHONPATH=str(target))
    text, report = doctor([python], env)
    assert text.returncode == 1, text.stdout + text.stderr
    assert report["situation"]["kind"] == "not-site-dir"  # type: ignore[index]
    assert f"harmony_vocab is imported from {target}, where Python reads no .pth file" in text.stdout
    assert_every_fix_works_as_printed(report, shlex.quote(str(python)), "", env, tmp_path)
    # Without either tool nothing would download: the situation is named, the exit code is 0, and
    # no fix is offered for a tool that is not there.
    bare = venv_python(make_venv())
    text, report = doctor([bare], env)
    assert text.returncode == 0 and report["situation"]["kind"] == "not-site-dir", text.stdout  # type: ignore[index]
    assert not any("for openai-harmony" in f or "for tiktoken" in f for f in report["fixes"])  # type: ignore[attr-defined]
    assert "neither openai-harmony nor tiktoken is installed" in text.stdout


def test_python_dash_capital_s(full_venv: Path, tmp_path: Path) -> None:
    (site_packages,) = full_venv.glob("lib/python*/site-packages")
    python = venv_python(full_venv)
    env = clean_env(tmp_path / "home", PYTHONPATH=str(site_packages))
    text, report = doctor([python, "-S"], env)
    assert text.returncode == 1, text.stdout + text.stderr
    assert report["situation"]["kind"] == "no-site"  # type: ignore[index]
    assert "python -S: Python read no .pth file" in text.stdout
    assert_every_fix_works_as_printed(report, f"{shlex.quote(str(python))} -S", "-S", env, tmp_path)


def test_zipapp(dist: Dict[str, Path], tools_only: Path, tmp_path: Path) -> None:
    """A zipapp that carries harmony-vocab (the tools themselves cannot load from a zip: their
    compiled parts stay installed beside it): the printed program fix works, and doctor says why
    no shell line is offered."""
    python = venv_python(tools_only)

    def zipapp(name: str, main: str) -> Path:
        source = target_install(python, dist["wheel"], tmp_path / name)
        (source / "__main__.py").write_text(main)
        run([python, "-m", "zipapp", source, "-o", tmp_path / f"{name}.pyz"])
        return tmp_path / f"{name}.pyz"

    app = zipapp("app", HARMONY_APP)
    env = clean_env(tmp_path / "home")
    text, report = doctor([python], {**env, "PYTHONPATH": str(app)})
    assert text.returncode == 1, text.stdout + text.stderr
    assert report["situation"]["kind"] == "zip"  # type: ignore[index]
    assert f"harmony_vocab is imported from a zip ({app}" in text.stdout
    (fix,) = report["fixes"]  # type: ignore[misc]
    top = re.match(r"`(import harmony_vocab; harmony_vocab\.register\(\))` at the top of the program", fix)
    assert top and "cannot load from a zip" in fix, fix
    failed = run(offline([python, app]), env=env, check=False)
    assert failed.returncode != 0 and HARMONY_DOWNLOAD_FAILED in failed.stderr, failed.stderr
    fixed_app = zipapp("fixed", f"{top.group(1)}\n{HARMONY_APP}")
    fixed = run(offline([python, fixed_app]), env=env, check=False)
    assert fixed.returncode == 0 and fixed.stdout.startswith(WORKS), fixed.stdout + fixed.stderr


SPAWN_APP = """\
{top}
import multiprocessing


def work(name):
    import tiktoken
    try:
        return tiktoken.get_encoding(name).encode("hello world")
    except Exception as exc:
        return type(exc).__name__


if __name__ == "__main__":
    {main}
    with multiprocessing.get_context("{method}").Pool(1) as pool:
        print(pool.map(work, ["o200k_base", "cl100k_base"]))
"""


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_register_under_main_reaches_spawned_workers(full_venv: Path, tmp_path: Path, method: str) -> None:
    """The printed program fix at module level, with register() itself under ``if __name__ ==
    "__main__"`` (issue 16.3): spawn and forkserver workers load tiktoken offline; without
    register() they download and fail (the control)."""
    (site_packages,) = full_venv.glob("lib/python*/site-packages")
    env = clean_env(tmp_path / "home", PYTHONPATH=str(site_packages))
    python = venv_python(full_venv)
    results = {}
    for case, main in (("registered", "harmony_vocab.register()"), ("control", "pass")):
        app = tmp_path / f"{case}.py"
        app.write_text(SPAWN_APP.format(top="import harmony_vocab", main=main, method=method))
        proc = run(offline([python, "-S", app]), env=env, check=False)
        assert proc.returncode == 0, proc.stderr
        results[case] = proc.stdout.strip()
    expected = run(offline([python, "-c", "import tiktoken; print([tiktoken.get_encoding(n).encode('hello world') "
                                          "for n in ('o200k_base', 'cl100k_base')])"]), env=clean_env(tmp_path / "h2"))
    assert results["registered"] == expected.stdout.strip()
    assert results["control"] == "['ConnectionError', 'ConnectionError']", results["control"]
