"""`harmony-vocab doctor` predicts what unmodified openai-harmony and tiktoken really do (issues 8,
10, 16, 17), and what it says is so: the opt-out's undo works as printed, an environment without
either tool is named as such, the missing companion is named with the command that adds it, a
broken tiktoken is reported broken. `resolve`, `doctor --json` and the start-up registration select
the same thing from the same environment (issue 9). All on the installed wheels, offline, against
real runs. (The fixes printed where no .pth runs: test_no_pth.py.)"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import pytest

from support import HARMONY_APP, SHARED_VOCAB, clean_env, offline, run, run_python, venv_python

pytestmark = pytest.mark.integration

# What an unmodified program gets, per tool and vocab: "ok" or the exception's type.
REALITY = textwrap.dedent(
    """
    import json
    out = {}
    try:
        from openai_harmony import HarmonyEncodingName, load_harmony_encoding
    except ImportError:
        pass
    else:
        try:
            load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)
            out["openai_harmony/o200k_base"] = "ok"
        except Exception as exc:
            out["openai_harmony/o200k_base"] = type(exc).__name__
    try:
        import tiktoken
    except ImportError:
        pass
    else:
        for name in ("o200k_base", "cl100k_base"):
            try:
                tiktoken.get_encoding(name)
                out["tiktoken/" + name] = "ok"
            except Exception as exc:
                out["tiktoken/" + name] = type(exc).__name__
    print(json.dumps(out))
    """
)
EVERY_CHECK = {"openai_harmony/o200k_base", "tiktoken/o200k_base", "tiktoken/cl100k_base"}


def doctor(venv: Path, home: Path, **env: str) -> Tuple[int, Dict[str, Any], str]:
    """``doctor --json`` and ``doctor``, offline; the exit codes must agree. (Paths are printed
    as the bytes they are, UTF-8 or not.)"""

    def run_doctor(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(offline([venv / "bin" / "harmony-vocab", "doctor", *args]), env=clean_env(home, **env),
                              capture_output=True, text=True, errors="surrogateescape", timeout=600)

    proc, text = run_doctor("--json"), run_doctor()
    assert text.returncode == proc.returncode, text.stdout + proc.stdout + proc.stderr
    return proc.returncode, json.loads(proc.stdout), text.stdout


def reality(venv: Path, home: Path, **env: str) -> Dict[str, str]:
    return json.loads(run_python(venv, home, REALITY, **env).stdout)


def predicted(report: Dict[str, Any]) -> Dict[str, str]:
    """doctor's prediction in REALITY's terms: "ok" where it says offline."""
    out = {}
    for name, vocab in report["vocabs"].items():
        for tool in ("openai_harmony", "tiktoken"):
            status = vocab[tool]["status"]
            if status in ("not installed", "not used"):
                continue
            out[f"{tool}/{name}"] = "ok" if status == "offline" else status
    return out


def non_utf8_dir(tmp: Path) -> str:
    """A directory whose name is not UTF-8 (``jürgen`` in Latin-1), holding a verified o200k_base,
    as the str Python gives for it."""
    directory = os.fsencode(tmp) + b"/j\xfcrgen"
    os.makedirs(directory, exist_ok=True)
    shutil.copy(SHARED_VOCAB / "o200k_base.tiktoken", os.fsdecode(directory))
    return os.fsdecode(directory)


def settings(tmp: Path) -> Dict[str, Dict[str, str]]:
    only_cl100k = tmp / "only-cl100k"
    only_cl100k.mkdir(exist_ok=True)
    shutil.copy(SHARED_VOCAB / "cl100k_base.tiktoken", only_cl100k)
    only_o200k = tmp / "gpt-oss" / "original"
    only_o200k.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHARED_VOCAB / "o200k_base.tiktoken", only_o200k)
    tilde_home = tmp / "tilde-home"
    (tilde_home / "vocab").mkdir(parents=True, exist_ok=True)
    shutil.copy(SHARED_VOCAB / "o200k_base.tiktoken", tilde_home / "vocab")
    latin1 = non_utf8_dir(tmp)
    return {
        "default": {},
        "opted-out": {"HARMONY_VOCAB_AUTOREGISTER": "0"},
        "opted-out, TIKTOKEN_ENCODINGS_BASE empty": {"HARMONY_VOCAB_AUTOREGISTER": "0", "TIKTOKEN_ENCODINGS_BASE": ""},
        "TIKTOKEN_ENCODINGS_BASE empty": {"TIKTOKEN_ENCODINGS_BASE": ""},
        "TIKTOKEN_ENCODINGS_BASE missing": {"TIKTOKEN_ENCODINGS_BASE": str(tmp / "missing")},
        "TIKTOKEN_ENCODINGS_BASE without o200k": {"TIKTOKEN_ENCODINGS_BASE": str(only_cl100k)},
        # openai-harmony expands no ~ (the directory exists under HOME, and is not read)
        "TIKTOKEN_ENCODINGS_BASE with ~": {"TIKTOKEN_ENCODINGS_BASE": "~/vocab", "HOME": str(tilde_home)},
        # openai-harmony's Rust core cannot read a non-UTF-8 path, though Python can
        "TIKTOKEN_ENCODINGS_BASE not UTF-8": {"TIKTOKEN_ENCODINGS_BASE": latin1},
        "file variable in a non-UTF-8 directory": {"HARMONY_VOCAB_O200K_BASE": latin1 + "/o200k_base.tiktoken"},
        "a model directory for o200k only": {"HARMONY_VOCAB_MODEL_DIR": str(only_o200k)},
    }


@pytest.mark.parametrize("setting", [
    "default", "opted-out", "opted-out, TIKTOKEN_ENCODINGS_BASE empty", "TIKTOKEN_ENCODINGS_BASE empty",
    "TIKTOKEN_ENCODINGS_BASE missing", "TIKTOKEN_ENCODINGS_BASE without o200k", "TIKTOKEN_ENCODINGS_BASE with ~",
    "TIKTOKEN_ENCODINGS_BASE not UTF-8", "file variable in a non-UTF-8 directory",
    "a model directory for o200k only"])
def test_doctor_predicts_what_unmodified_tools_really_do(full_venv: Path, tmp_path: Path, setting: str) -> None:
    env = settings(tmp_path)[setting]
    code, report, text = doctor(full_venv, tmp_path / "d", **env)
    real = reality(full_venv, tmp_path / "r", **env)
    assert set(real) == EVERY_CHECK
    guessed = predicted(report)
    assert {k: v == "ok" for k, v in guessed.items()} == {k: v == "ok" for k, v in real.items()}, (guessed, real)
    every_one_works = all(v == "ok" for v in real.values())
    assert (code == 0) == every_one_works and report["ok"] is every_one_works
    assert ("NOT OK" in text) is not every_one_works
    if setting == "a model directory for o200k only":  # nothing to warn about for cl100k_base
        assert report["vocabs"]["cl100k_base"]["warnings"] == []


def offline_shell(script: str, env: Dict[str, str]) -> subprocess.CompletedProcess:
    return run(offline(["bash", "-euo", "pipefail", "-c", script]), env=env, check=False)


def test_the_opt_out_says_what_it_turned_off_and_its_undo_works_as_printed(full_venv: Path, tmp_path: Path) -> None:
    env = {"HARMONY_VOCAB_AUTOREGISTER": "0"}
    code, report, text = doctor(full_venv, tmp_path / "d", **env)
    assert code == 1 and report["situation"]["kind"] == "disabled"
    line = next(l for l in text.splitlines() if l.startswith("start-up registration:"))
    assert "HARMONY_VOCAB_AUTOREGISTER=0 turned off the start-up registration and the tiktoken hook" in line, line
    undo = re.search(r"to undo: (.*)$", line)
    assert undo, line
    # What it says it turned off is off: neither tool loads (the control) ...
    assert not any(v == "ok" for v in reality(full_venv, tmp_path / "off", **env).values())
    # ... and the undo, run literally in the shell that has the variable, brings both back.
    script = f"{undo.group(1)}\n{venv_python(full_venv)} -c {shlex.quote(REALITY)}"
    proc = offline_shell(script, clean_env(tmp_path / "on", **env))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {k: "ok" for k in EVERY_CHECK}
    after = offline_shell(f"{undo.group(1)}\n{full_venv / 'bin' / 'harmony-vocab'} doctor",
                          clean_env(tmp_path / "on", **env))
    assert after.returncode == 0, after.stdout


def test_neither_tool_installed_is_named_and_nothing_is_called_ok(wheel_venv: Path, make_venv: Callable[..., Path],
                                                                  tmp_path: Path) -> None:
    code, report, text = doctor(wheel_venv, tmp_path / "d")
    assert code == 0 and report["checked"] is False
    assert "ok: every installed tool" not in text
    assert "neither openai-harmony nor tiktoken is installed" in text
    for vocab in report["vocabs"].values():
        assert vocab["tiktoken"]["status"] in ("not installed", "not used")
        assert vocab["openai_harmony"]["status"] in ("not installed", "not used")
    assert "would download" not in text
    # What it says `env` does for programs in other environments is so: a venv with openai-harmony
    # and no harmony-vocab loads offline with env's setting, and not without it (the control).
    said = re.search(r"'(\S+ env)' prints the setting that points openai-harmony at these files", text)
    assert said, text
    setting = run([wheel_venv / "bin" / said.group(1).split()[0], "env"], env=clean_env(tmp_path / "e")).stdout
    other = make_venv("openai-harmony==0.0.8")
    (tmp_path / "app.py").write_text(HARMONY_APP)
    app = f"{venv_python(other)} {tmp_path / 'app.py'}"
    assert offline_shell(app, clean_env(tmp_path / "o")).returncode != 0
    fixed = offline_shell(f"{setting}\n{app}", clean_env(tmp_path / "o"))
    assert fixed.returncode == 0 and fixed.stdout.startswith("openai-harmony: HarmonyGptOss ["), fixed.stderr


def test_a_missing_companion_is_named_with_the_command_that_adds_it(
        dist: Dict[str, Path], make_venv: Callable[..., Path], tmp_path: Path) -> None:
    venv = make_venv(str(dist["wheel"]), "tiktoken")
    code, report, text = doctor(venv, tmp_path / "before")
    command = "pip install 'harmony-vocab[legacy]'"
    legacy = [name for name, v in report["vocabs"].items() if v["tier"] is None]
    assert legacy == ["r50k_base", "p50k_base", "gpt2"], report["vocabs"]
    for name in legacy:
        assert command in report["vocabs"][name]["error"]
    assert command in text
    # The command, with both wheels in a local wheelhouse instead of the index, adds the companion:
    # doctor then has every vocab in the package tier, served to tiktoken offline.
    house = tmp_path / "wheelhouse"
    house.mkdir()
    for wheel in (dist["wheel"], dist["legacy_wheel"]):
        shutil.copy(wheel, house)
    run([venv_python(venv), "-m", *command.replace("'", "").split(), "-q", "--no-index", "--find-links", house])
    code, report, text = doctor(venv, tmp_path / "after")
    assert code == 0 and command not in text, text
    for name, v in report["vocabs"].items():
        assert (v["tier"], v["tiktoken"]["status"]) == ("package", "offline"), (name, v)


def test_a_broken_tiktoken_is_reported_broken(dist: Dict[str, Path], make_venv: Callable[..., Path],
                                              tmp_path: Path) -> None:
    venv = make_venv(str(dist["wheel"]), "tiktoken")
    (load,) = venv.glob("lib/python*/site-packages/tiktoken/load.py")
    load.write_text(load.read_text() + "\ndef broken(:\n")
    for env in ({}, {"HARMONY_VOCAB_AUTOREGISTER": "0"}):
        real = reality(venv, tmp_path / "r", **env)
        assert real == {"tiktoken/o200k_base": "SyntaxError", "tiktoken/cl100k_base": "SyntaxError"}, real
        code, report, text = doctor(venv, tmp_path / "d", **env)
        assert code == 1, text
        for name in ("o200k_base", "cl100k_base"):
            status = report["vocabs"][name]["tiktoken"]
            assert status["status"] == "broken" and "SyntaxError" in status["detail"], (env, status)
        assert "would download" not in text, text


# ------------------------------------------------------------------ one selection, three readers

SELECTION = textwrap.dedent(
    """
    import contextlib, io, json, os, warnings
    # What the start-up registration did in this fresh interpreter: its marker names the tier and
    # the directory it pointed openai-harmony at; an operator's own TIKTOKEN_ENCODINGS_BASE is kept.
    base = os.environ.get("TIKTOKEN_ENCODINGS_BASE")
    marker = os.environ.get("HARMONY_VOCAB_REGISTERED")
    if marker is not None:
        tier, _, directory = marker.partition(":")
        assert directory == base, (marker, base)
        startup = [tier, directory]
    else:
        startup = ["environment", os.path.abspath(base)] if base else None
    import harmony_vocab as hv
    from harmony_vocab import cli
    warnings.simplefilter("ignore")
    try:
        r = hv.resolve("o200k_base")
        resolved = [r.tier, str(r.path.parent)]
    except hv.VocabNotFoundError:
        resolved = None
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        cli.main(["doctor", "--json"])
    vocab = json.loads(buf.getvalue())["vocabs"]["o200k_base"]
    doctor = [vocab["tier"], os.path.dirname(vocab["path"])] if vocab["ok"] else None
    print(json.dumps({"startup": startup, "resolve": resolved, "doctor": doctor}))
    """
)


def hub_snapshot(hub: Path, repo_id: str, revision: str) -> Path:
    """A snapshot laid out as huggingface_hub lays it out: a blob, a relative symlink to it, refs/main
    (tests/test_hub_cache.py checks this layout against one huggingface_hub wrote itself)."""
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    blob = repo / "blobs" / "o200k-blob"
    blob.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHARED_VOCAB / "o200k_base.tiktoken", blob)
    link = repo / "snapshots" / revision / "original" / "o200k_base.tiktoken"
    link.parent.mkdir(parents=True)
    os.symlink(os.path.relpath(blob, link.parent), link)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    return link.parent


def matrix(base: Path) -> List[Tuple[str, Dict[str, str], str]]:
    """(id, variables, working directory) settings of the matrix; the paths exist under `base`."""
    good = base / "good"
    for sub in ("", "model/encodings", "home/m/tokenizer", "cwd/rel"):
        (good / sub).mkdir(parents=True, exist_ok=True)
        if sub:
            shutil.copy(SHARED_VOCAB / "o200k_base.tiktoken", good / sub)
    shutil.copy(SHARED_VOCAB / "o200k_base.tiktoken", good)
    renamed = good / "renamed.vocab"
    shutil.copy(SHARED_VOCAB / "o200k_base.tiktoken", renamed)
    damaged = base / "damaged"
    damaged.mkdir(exist_ok=True)
    data = bytearray((SHARED_VOCAB / "o200k_base.tiktoken").read_bytes())
    data[0] ^= 1
    (damaged / "o200k_base.tiktoken").write_bytes(bytes(data))
    hub = base / "hf-home" / "hub"
    snapshot = hub_snapshot(hub, "openai/gpt-oss-20b", "c0ffee")
    (base / "xdg").mkdir(exist_ok=True)
    if not (base / "xdg" / "huggingface").exists():
        os.symlink(hub.parent, base / "xdg" / "huggingface")
    cwd = str(good / "cwd")
    home = str(good / "home")
    return [
        ("nothing set", {}, cwd),
        ("file variable", {"HARMONY_VOCAB_O200K_BASE": str(good / "o200k_base.tiktoken")}, cwd),
        ("file variable, relative", {"HARMONY_VOCAB_O200K_BASE": "rel/o200k_base.tiktoken"}, cwd),
        ("file variable, ~", {"HARMONY_VOCAB_O200K_BASE": "~/m/tokenizer/o200k_base.tiktoken", "HOME": home}, cwd),
        ("file variable, damaged", {"HARMONY_VOCAB_O200K_BASE": str(damaged / "o200k_base.tiktoken")}, cwd),
        ("file variable, renamed", {"HARMONY_VOCAB_O200K_BASE": str(renamed)}, cwd),
        ("file variable, empty", {"HARMONY_VOCAB_O200K_BASE": ""}, cwd),
        ("model dir", {"HARMONY_VOCAB_MODEL_DIR": str(good / "model")}, cwd),
        ("model dir, relative", {"HARMONY_VOCAB_MODEL_DIR": "rel"}, cwd),
        ("model dir, ~", {"HARMONY_VOCAB_MODEL_DIR": "~/m", "HOME": home}, cwd),
        ("model dir, missing", {"HARMONY_VOCAB_MODEL_DIR": str(base / "missing")}, cwd),
        ("model dir, empty", {"HARMONY_VOCAB_MODEL_DIR": ""}, cwd),
        ("model dir, damaged", {"HARMONY_VOCAB_MODEL_DIR": str(damaged)}, cwd),
        ("repo id in the hub cache", {"HARMONY_VOCAB_MODEL_DIR": "openai/gpt-oss-20b", "HF_HUB_CACHE": str(hub)}, cwd),
        ("repo id, HF_HOME", {"HARMONY_VOCAB_MODEL_DIR": "openai/gpt-oss-20b", "HF_HOME": str(hub.parent)}, cwd),
        ("repo id, XDG_CACHE_HOME", {"HARMONY_VOCAB_MODEL_DIR": "openai/gpt-oss-20b",
                                     "XDG_CACHE_HOME": str(base / "xdg")}, cwd),
        ("repo id not in the cache", {"HARMONY_VOCAB_MODEL_DIR": "openai/gpt-oss-120b", "HF_HUB_CACHE": str(hub)}, cwd),
        ("TIKTOKEN_ENCODINGS_BASE", {"TIKTOKEN_ENCODINGS_BASE": str(good)}, cwd),
        ("TIKTOKEN_ENCODINGS_BASE, relative", {"TIKTOKEN_ENCODINGS_BASE": "rel"}, cwd),
        ("TIKTOKEN_ENCODINGS_BASE, empty", {"TIKTOKEN_ENCODINGS_BASE": ""}, cwd),
        ("file variable beats model dir", {"HARMONY_VOCAB_O200K_BASE": str(good / "o200k_base.tiktoken"),
                                           "HARMONY_VOCAB_MODEL_DIR": str(good / "model")}, cwd),
        ("damaged file variable, then model dir", {"HARMONY_VOCAB_O200K_BASE": str(damaged / "o200k_base.tiktoken"),
                                                   "HARMONY_VOCAB_MODEL_DIR": str(good / "model")}, cwd),
        ("our cache", {"HARMONY_VOCAB_CACHE_DIR": str(good)}, cwd),
        ("hub snapshot path as a model dir", {"HARMONY_VOCAB_MODEL_DIR": str(snapshot.parent)}, cwd),
    ]


def test_resolve_doctor_and_start_up_select_the_same(full_venv: Path, tmp_path: Path) -> None:
    rows = matrix(tmp_path)
    disagreements = []
    for row_id, variables, cwd in rows:
        home = tmp_path / "homes" / re.sub(r"[^a-z0-9]+", "-", row_id)
        env = clean_env(home, **variables)
        proc = run(offline([venv_python(full_venv), "-c", SELECTION]), env=env, cwd=Path(cwd))
        seen = json.loads(proc.stdout.strip().splitlines()[-1])
        if variables.get("HARMONY_VOCAB_O200K_BASE", "").endswith("renamed.vocab"):
            # openai-harmony reads canonical names only: start-up passes the renamed file over
            assert seen["resolve"][0] == "environment" and seen["startup"][0] == "package", seen
            assert seen["doctor"] == seen["resolve"]
            continue
        if seen["startup"] is None or not (seen["startup"] == seen["resolve"] == seen["doctor"]):
            disagreements.append((row_id, seen))
    assert disagreements == []
    assert len(rows) >= 20
