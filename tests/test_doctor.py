"""`harmony-vocab doctor` predicts what unmodified openai-harmony and tiktoken really do (issues 8
and 10), and `resolve`, `doctor --json` and the start-up registration select the same thing from
the same environment (issue 9): all on the installed wheel, offline, against real runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest

from support import SHARED_VOCAB, clean_env, offline, run, run_python, venv_python

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


def doctor(venv: Path, home: Path, **env: str) -> Tuple[int, Dict[str, object], str]:
    cmd = offline([venv / "bin" / "harmony-vocab", "doctor", "--json"])
    proc = run(cmd, env=clean_env(home, **env), check=False)
    text = run(offline([venv / "bin" / "harmony-vocab", "doctor"]), env=clean_env(home, **env), check=False)
    assert text.returncode == proc.returncode
    return proc.returncode, json.loads(proc.stdout), text.stdout


def reality(venv: Path, home: Path, **env: str) -> Dict[str, str]:
    return json.loads(run_python(venv, home, REALITY, **env).stdout)


def predicted(report: Dict[str, object]) -> Dict[str, str]:
    """doctor's prediction in REALITY's terms: "ok" where it says offline."""
    out = {}
    for name, vocab in report["vocabs"].items():  # type: ignore[attr-defined]
        for tool in ("openai_harmony", "tiktoken"):
            status = vocab[tool]["status"]
            if status in ("not installed", "not used"):
                continue
            out[f"{tool}/{name}"] = "ok" if status == "offline" else status
    return out


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
    return {
        "default": {},
        "opted-out": {"HARMONY_VOCAB_AUTOREGISTER": "0"},
        "opted-out, TIKTOKEN_ENCODINGS_BASE empty": {"HARMONY_VOCAB_AUTOREGISTER": "0", "TIKTOKEN_ENCODINGS_BASE": ""},
        "TIKTOKEN_ENCODINGS_BASE empty": {"TIKTOKEN_ENCODINGS_BASE": ""},
        "TIKTOKEN_ENCODINGS_BASE missing": {"TIKTOKEN_ENCODINGS_BASE": str(tmp / "missing")},
        "TIKTOKEN_ENCODINGS_BASE without o200k": {"TIKTOKEN_ENCODINGS_BASE": str(only_cl100k)},
        # openai-harmony expands no ~ (the directory exists under HOME, and is not read)
        "TIKTOKEN_ENCODINGS_BASE with ~": {"TIKTOKEN_ENCODINGS_BASE": "~/vocab", "HOME": str(tilde_home)},
        "a model directory for o200k only": {"HARMONY_VOCAB_MODEL_DIR": str(only_o200k)},
    }


@pytest.mark.parametrize("setting", ["default", "opted-out", "opted-out, TIKTOKEN_ENCODINGS_BASE empty",
                                     "TIKTOKEN_ENCODINGS_BASE empty", "TIKTOKEN_ENCODINGS_BASE missing",
                                     "TIKTOKEN_ENCODINGS_BASE without o200k", "TIKTOKEN_ENCODINGS_BASE with ~",
                                     "a model directory for o200k only"])
def test_doctor_predicts_what_unmodified_tools_really_do(full_venv: Path, tmp_path: Path, setting: str) -> None:
    env = settings(tmp_path)[setting]
    code, report, text = doctor(full_venv, tmp_path / "d", **env)
    real = reality(full_venv, tmp_path / "r", **env)
    assert set(real) == {"openai_harmony/o200k_base", "tiktoken/o200k_base", "tiktoken/cl100k_base"}
    guessed = predicted(report)
    assert {k: v == "ok" for k, v in guessed.items()} == {k: v == "ok" for k, v in real.items()}, (guessed, real)
    every_one_works = all(v == "ok" for v in real.values())
    assert (code == 0) == every_one_works and report["ok"] is every_one_works
    assert ("NOT OK" in text) is not every_one_works
    if setting == "a model directory for o200k only":  # nothing to warn about for cl100k_base
        assert report["vocabs"]["cl100k_base"]["warnings"] == []


def test_doctor_names_a_tool_that_is_not_installed(wheel_venv: Path, tmp_path: Path) -> None:
    code, report, text = doctor(wheel_venv, tmp_path)
    assert code == 0 and report["ok"] is True
    for vocab in report["vocabs"].values():  # type: ignore[attr-defined]
        assert vocab["tiktoken"] == {"status": "not installed", "path": None, "detail": "not installed"}
    assert "unmodified tiktoken: not installed" in text
    assert "would download" not in text and "network" not in text.split("vocabs:")[1]


# ------------------------------------------------------------------ one selection, three readers

SELECTION = textwrap.dedent(
    """
    import io, json, os, sys, warnings
    import harmony_vocab as hv
    from harmony_vocab import cli
    warnings.simplefilter("ignore")
    from _harmony_vocab_startup import selection
    marker = os.environ.get("HARMONY_VOCAB_REGISTERED")
    selected = selection(os.environ)
    startup = list(selected) if selected else None
    if marker is not None:  # the registration ran at start-up, and registered that very selection
        assert marker == ":".join(startup), (marker, startup)
    try:
        r = hv.resolve("o200k_base")
        resolved = [r.tier, str(r.path.parent)]
    except hv.VocabNotFoundError:
        resolved = None
    buf = io.StringIO()
    cli.main(["doctor", "--json"], stdout=buf)
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
    ] + [("hub snapshot path as a model dir", {"HARMONY_VOCAB_MODEL_DIR": str(snapshot.parent)}, cwd)]


@pytest.fixture(scope="module")
def matrix_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("selection-matrix")


def test_resolve_doctor_and_start_up_select_the_same(full_venv: Path, matrix_base: Path) -> None:
    rows = matrix(matrix_base)
    disagreements = []
    for row_id, variables, cwd in rows:
        home = matrix_base / "homes" / row_id.replace(" ", "-").replace(",", "").replace("~", "tilde")
        env = clean_env(home, **variables)
        proc = run(offline([venv_python(full_venv), "-c", SELECTION]), env=env, cwd=Path(cwd))
        seen = json.loads(proc.stdout.strip().splitlines()[-1])
        if variables.get("HARMONY_VOCAB_O200K_BASE", "").endswith("renamed.vocab"):
            # openai-harmony reads canonical names only: start-up passes the renamed file over
            assert seen["resolve"][0] == "environment" and seen["startup"] == ["package", seen["startup"][1]]
            assert seen["doctor"] == seen["resolve"]
            continue
        if seen["startup"] is None or not (seen["startup"] == seen["resolve"] == seen["doctor"]):
            disagreements.append((row_id, seen))
    assert disagreements == []
    assert len(rows) >= 20
