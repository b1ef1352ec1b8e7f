"""The harmony-vocab command: in-process on synthetic vocabs (fast), then every subcommand on the
installed wheel in a subprocess (marked integration)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest
from pytest_httpserver import HTTPServer

import harmony_vocab
from harmony_vocab import cli
from harmony_vocab.pins import PINS, VOCABS, Pin, url_cache_name
from support import SHARED_VOCAB, Handler, RawServer, clean_env, make_pin, offline, run, trickle, venv_python

Synthetic = Dict[str, Tuple[Pin, bytes]]
CORE = {name: pin for name, pin in PINS.items() if pin.wheel == "core"}  # what the core wheel ships
COMMANDS = ("path", "resolve", "verify", "export", "env", "seed-cache", "fetch", "doctor")


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> dict:
        return json.loads(self.out)


def hv(capsys: pytest.CaptureFixture, *argv: str) -> Result:
    """Run cli.main in-process; capture its exit code and output."""
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def bundle(synthetic: Synthetic, package: Path, *names: str) -> None:
    package.mkdir(parents=True, exist_ok=True)
    for name in names or tuple(synthetic):
        pin, data = synthetic[name]
        (package / pin.file).write_bytes(data)


def flipped(data: bytes) -> bytes:
    return data[:10] + bytes([data[10] ^ 1]) + data[11:]


@pytest.fixture
def synthetic(synthetic: Synthetic, monkeypatch: pytest.MonkeyPatch) -> Synthetic:
    """The conftest's synthetic o200k_base and cl100k_base, and no other pin (the companion's
    vocabs would be "installed" too, the package tier being one directory for both wheels)."""
    for name in list(PINS):
        if name not in synthetic:
            monkeypatch.delitem(PINS, name)
    return synthetic


@pytest.fixture
def package(synthetic: Synthetic, tmp_path: Path) -> Path:
    """The synthetic package tier, holding both vocabs."""
    bundle(synthetic, tmp_path / "package")
    return tmp_path / "package"


# ------------------------------------------------------------------------------ usage and help

def test_version_and_help_on_every_subcommand(capsys: pytest.CaptureFixture) -> None:
    r = hv(capsys, "--version")
    assert (r.code, r.out.strip()) == (0, f"harmony-vocab {harmony_vocab.__version__}")
    r = hv(capsys, "--help")
    assert r.code == 0 and "exit codes:" in r.out
    for command in COMMANDS:
        r = hv(capsys, command, "--help")
        assert r.code == 0, command
        assert f"usage: harmony-vocab {command}" in r.out and "2  usage error" in r.out
    assert '"attempts"' in hv(capsys, "resolve", "--help").out  # the JSON shape is documented
    assert "openai_harmony/tiktoken.status" in hv(capsys, "doctor", "--help").out


@pytest.mark.parametrize("argv", [
    [], ["nope"], ["path"], ["path", "p99k_base"], ["resolve", "o200k"], ["export"],
    ["resolve", "o200k_base", "--vocab-path", "a", "--vocab-dir", "b"], ["env", "--format", "csh"],
    ["export", "d", "--layout", "nested"], ["fetch", "gpt2"], ["fetch", "--name", "gpt3"],
    ["verify", "--name", "x"], ["seed-cache", "--name", "o200k"], ["env", "--json", "--format", "sh"],
])
def test_bad_usage_exits_2_with_one_line(capsys: pytest.CaptureFixture, argv: List[str]) -> None:
    r = hv(capsys, *argv)
    assert r.code == 2
    assert r.out == ""
    assert len(r.err.strip().splitlines()) == 1
    assert r.err.startswith("harmony-vocab") and "error:" in r.err and "--help" in r.err


def test_unknown_vocab_names_the_known_ones(capsys: pytest.CaptureFixture) -> None:
    r = hv(capsys, "path", "p99k_base")
    assert f"unknown vocab name 'p99k_base': expected one of {', '.join(VOCABS)}" in r.err


SET_COMMANDS = ("verify", "export", "seed-cache", "fetch")  # act on a set of vocabs
JSON_COMMANDS = ("resolve", "verify", "env", "doctor")


def test_one_spelling_for_a_set_of_vocabs_and_for_json(capsys: pytest.CaptureFixture) -> None:
    for command in COMMANDS:
        usage = " ".join(hv(capsys, command, "--help").out.split("\n\n")[0].split())  # argparse wraps by version
        assert ("[--name N]" in usage) == (command in SET_COMMANDS), usage
        assert ("[--json]" in usage or "| --json]" in usage) == (command in JSON_COMMANDS), usage
        if command in ("path", "resolve"):
            assert usage.endswith(" NAME"), usage  # exactly one vocab: positional


def test_verify_name_chooses_the_vocabs_checked(capsys: pytest.CaptureFixture, synthetic: Synthetic, package: Path) -> None:
    checks = hv(capsys, "verify", "--name", "cl100k_base", "--json").json()["checks"]
    assert {c["name"] for c in checks} == {"cl100k_base"}
    checks = hv(capsys, "verify", "--name", "cl100k_base", "--name", "o200k_base", "--json").json()["checks"]
    assert [c["name"] for c in checks if c["tier"] == "package"] == ["cl100k_base", "o200k_base"]
    # Several names: a file given as PATH is identified by its name; one name: it must be that one.
    r = hv(capsys, "verify", "--name", "cl100k_base", "--name", "o200k_base", str(package / "o200k_base.tiktoken"))
    assert r.code == 0 and r.out.split()[:2] == ["ok", "o200k_base"]
    r = hv(capsys, "verify", "--name", "cl100k_base", str(package / "o200k_base.tiktoken"))
    assert r.code == 1 and "size mismatch" in r.err


EMPTY_ARGUMENTS = [["export", ""], ["verify", ""], ["seed-cache", "--tiktoken", ""], ["seed-cache", "--harmony", " "],
                   ["env", "--dir", ""], ["resolve", "o200k_base", "--vocab-dir", ""]]


@pytest.mark.parametrize("argv", EMPTY_ARGUMENTS, ids=" ".join)
def test_an_empty_argument_is_refused_and_nothing_is_written(
    capsys: pytest.CaptureFixture, synthetic: Synthetic, package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    argv: List[str]
) -> None:
    """``export "$DEST"`` with DEST unset must not write into the current directory."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tk"))
    monkeypatch.setenv("TIKTOKEN_RS_CACHE_DIR", str(tmp_path / "rs"))
    r = hv(capsys, *argv)
    assert (r.code, r.out) == (2, "")
    (line,) = r.err.splitlines()
    assert line.startswith("harmony-vocab: error: ") and "empty" in line
    assert list(work.iterdir()) == [] and not (tmp_path / "tk").exists() and not (tmp_path / "rs").exists()
    # the control: the same command with a directory given acts
    if argv[0] in ("export", "seed-cache"):
        r = hv(capsys, *[a if a.strip() else str(tmp_path / "given") for a in argv])
        assert r.code == 0, r.err
        assert any((tmp_path / "given").iterdir())


def test_python_warnings_error_leaves_our_warnings_one_line(tmp_path: Path) -> None:
    """PYTHONWARNINGS=error (common in CI): a setting that points at a missing file is still a
    warning printed as one line, and path, export and seed-cache succeed from the next tier (the
    checkout's packaged copies), in a subprocess."""
    env = clean_env(tmp_path, PYTHONWARNINGS="error", HARMONY_VOCAB_O200K_BASE=str(tmp_path / "missing.tiktoken"))
    for argv in (["path", "o200k_base"], ["export", str(tmp_path / "out"), "--name", "o200k_base"],
                 ["seed-cache", "--tiktoken", str(tmp_path / "tk"), "--name", "o200k_base"]):
        proc = run([sys.executable, "-m", "harmony_vocab", *argv], env=env, check=False)
        assert proc.returncode == 0, proc.stderr
        (line,) = proc.stderr.splitlines()
        assert line.startswith("harmony-vocab: ") and "HARMONY_VOCAB_O200K_BASE" in line and "missing" in line
        assert "Traceback" not in proc.stderr
    assert (tmp_path / "out" / "o200k_base.tiktoken").is_file()


# ------------------------------------------------------------------------------ path / resolve

def test_path_prints_only_the_selected_path(capsys: pytest.CaptureFixture, synthetic: Synthetic, package: Path) -> None:
    r = hv(capsys, "path", "o200k_base")
    assert (r.code, r.out, r.err) == (0, f"{package / 'o200k_base.tiktoken'}\n", "")
    assert hv(capsys, "path", "cl100k_base.tiktoken").out == f"{package / 'cl100k_base.tiktoken'}\n"


def test_path_follows_the_environment_and_bundled_ignores_it(
    capsys: pytest.CaptureFixture, synthetic: Synthetic, package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = tmp_path / "own.tiktoken"
    own.write_bytes(synthetic["o200k_base"][1])
    monkeypatch.setenv("HARMONY_VOCAB_O200K_BASE", str(own))
    assert hv(capsys, "path", "o200k_base").out == f"{own}\n"
    assert hv(capsys, "path", "o200k_base", "--bundled").out == f"{package / 'o200k_base.tiktoken'}\n"


def test_path_with_nothing_found_lists_every_attempt(capsys: pytest.CaptureFixture, synthetic: Synthetic) -> None:
    r = hv(capsys, "path", "o200k_base")
    assert r.code == 1 and r.out == ""
    lines = r.err.splitlines()
    assert lines[0] == "harmony-vocab: error: no verified copy of the o200k_base vocab found. Places tried, in order:"
    for tier in ("explicit", "environment", "model", "package", "cache", "download"):
        assert f"[{tier}]" in r.err
    assert "HARMONY_VOCAB_ALLOW_DOWNLOAD=1" in r.err
    r = hv(capsys, "path", "o200k_base", "--bundled")
    assert r.code == 1 and "reinstall harmony-vocab" in r.err and len(r.err.splitlines()) == 1


@pytest.mark.parametrize("damage", ["flipped", "truncated", "a directory"])
def test_path_bundled_on_a_damaged_copy_says_to_reinstall(
    capsys: pytest.CaptureFixture, synthetic: Synthetic, package: Path, damage: str
) -> None:
    """export and fetch write elsewhere: they cannot mend the package's own file; reinstalling can."""
    pin, data = synthetic["o200k_base"]
    bundled = package / pin.file
    expected = {"flipped": f"sha256 mismatch: expected {pin.sha256}",
                "truncated": f"size mismatch: expected {pin.size} bytes, got {pin.size - 1}",
                "a directory": "is a directory, expected a file"}[damage]
    if damage == "a directory":
        bundled.unlink()
        bundled.mkdir()
    else:
        bundled.write_bytes(flipped(data) if damage == "flipped" else data[:-1])
    r = hv(capsys, "path", "o200k_base", "--bundled")
    assert (r.code, r.out) == (1, "")
    (line,) = r.err.splitlines()
    assert line.startswith(f"harmony-vocab: error: the packaged copy {bundled} is damaged ({expected}")
    assert line.endswith("): reinstall harmony-vocab from a wheel that bundles the vocab files "
                         "(pip install --force-reinstall harmony-vocab)")
    assert "export" not in r.err and "fetch" not in r.err


def test_resolve_text_and_json(capsys: pytest.CaptureFixture, synthetic: Synthetic, package: Path) -> None:
    r = hv(capsys, "resolve", "o200k_base")
    assert r.code == 0
    assert r.out.splitlines()[0] == f"o200k_base: package {package / 'o200k_base.tiktoken'}"
    assert "  1. [explicit] vocab_path / vocab_dir: not given" in r.out
    data = hv(capsys, "resolve", "cl100k_base", "--json").json()
    pin = synthetic["cl100k_base"][0]
    assert data == {"name": "cl100k_base", "ok": True, "tier": "package", "paths": [str(package / pin.file)],
                    "attempts": data["attempts"], "error": None}
    assert [a["tier"] for a in data["attempts"]] == ["explicit", "environment", "environment", "model", "package"]
    assert data["attempts"][-1] == {"tier": "package", "place": str(package / pin.file), "outcome": "verified", "ok": True}


def test_resolve_explicit_model_and_failures(
    capsys: pytest.CaptureFixture, synthetic: Synthetic, package: Path, tmp_path: Path
) -> None:
    pin, data = synthetic["o200k_base"]
    (tmp_path / "m" / "original").mkdir(parents=True)
    (tmp_path / "m" / "original" / pin.file).write_bytes(data)
    out = hv(capsys, "resolve", "o200k_base", "--model-dir", str(tmp_path / "m"), "--json").json()
    assert (out["tier"], out["paths"]) == ("model", [str(tmp_path / "m" / "original" / pin.file)])
    out = hv(capsys, "resolve", "o200k_base", "--vocab-dir", str(tmp_path / "m" / "original"), "--json").json()
    assert out["tier"] == "explicit"

    bad = tmp_path / "bad.tiktoken"
    bad.write_bytes(flipped(data))
    r = hv(capsys, "resolve", "o200k_base", "--vocab-path", str(bad), "--json")
    assert r.code == 1
    out = r.json()
    assert out["ok"] is False and out["tier"] is None and out["paths"] == []
    assert out["attempts"] == [{"tier": "explicit", "place": f"vocab_path={bad}", "ok": False,
                                "outcome": out["attempts"][0]["outcome"]}]
    assert out["attempts"][0]["outcome"].startswith(f"sha256 mismatch: expected {pin.sha256}, got ")
    assert r.err.count("\n") == 1 and str(bad) in r.err and "sha256 mismatch" in r.err

    r = hv(capsys, "resolve", "o200k_base", "--vocab-path", str(tmp_path / "missing"))
    assert r.code == 1 and len(r.err.splitlines()) == 1
    assert f"[explicit] vocab_path={tmp_path / 'missing'}: missing" in r.out


def test_resolve_json_when_every_tier_fails(capsys: pytest.CaptureFixture, synthetic: Synthetic) -> None:
    r = hv(capsys, "resolve", "o200k_base", "--json")
    assert r.code == 1
    out = r.json()
    assert out["ok"] is False and out["paths"] == []
    assert [a["tier"] for a in out["attempts"]][-2:] == ["cache", "download"]
    assert out["error"].startswith("no verified copy of the o200k_base vocab found.")
    (line,) = r.err.splitlines()
    assert line.startswith("harmony-vocab: error: no verified copy of the o200k_base vocab found.")
    # in text, the places follow on stdout, in order
    r = hv(capsys, "resolve", "o200k_base")
    assert r.code == 1 and r.out.splitlines()[0] == "places looked at, in order:"
    assert [line.split("[")[1].split("]")[0] for line in r.out.splitlines()[1:]] == [a["tier"] for a in out["attempts"]]


# ------------------------------------------------------------------------------ verify

def test_verify_files_by_name_cache_name_and_size(capsys: pytest.CaptureFixture, synthetic: Synthetic, tmp_path: Path) -> None:
    pin, data = synthetic["cl100k_base"]
    named = tmp_path / pin.file
    cached = tmp_path / url_cache_name(pin.urls[0])
    renamed = tmp_path / "whatever.bin"
    for path in (named, cached, renamed):
        path.write_bytes(data)
    r = hv(capsys, "verify", str(named), str(cached), str(renamed), "--json")
    assert r.code == 0, r.err
    checks = r.json()["checks"]
    assert r.json()["ok"] is True
    assert [(c["name"], c["status"], c["tier"]) for c in checks] == [("cl100k_base", "ok", None)] * 3
    assert hv(capsys, "verify", "--name", "cl100k_base", str(renamed)).code == 0


@pytest.mark.parametrize("case", ["flipped", "truncated", "missing", "empty dir", "wrong name", "unknown size"])
def test_verify_failures_exit_1(capsys: pytest.CaptureFixture, synthetic: Synthetic, tmp_path: Path, case: str) -> None:
    pin, data = synthetic["o200k_base"]
    target = tmp_path / pin.file
    expected = {
        "flipped": f"sha256 mismatch: expected {pin.sha256}",
        "truncated": f"size mismatch: expected {pin.size} bytes, got {pin.size - 1}",
        "missing": "missing",
        "empty dir": "holds no vocab file (looked in ./, encodings/, tokenizer/, original/)",
        "wrong name": "size mismatch",
        "unknown size": "matches no pinned vocab",
    }[case]
    if case == "flipped":
        target.write_bytes(flipped(data))
    elif case == "truncated":
        target.write_bytes(data[:-1])
    elif case == "empty dir":
        target = tmp_path / "empty"
        target.mkdir()
    elif case == "wrong name":
        target = tmp_path / "cl100k_base.tiktoken"
        target.write_bytes(data)
    elif case == "unknown size":
        target = tmp_path / "vocab.bin"
        target.write_bytes(b"x" * 7)
    r = hv(capsys, "verify", str(target))
    assert r.code == 1
    assert r.out.startswith("FAILED") and expected in r.out
    assert len(r.err.splitlines()) == 1 and str(target) in r.err and expected in r.err


def test_verify_directory_searches_model_subdirs_and_tokenizer_json(
    capsys: pytest.CaptureFixture, synthetic: Synthetic, package: Path, tmp_path: Path
) -> None:
    from support import to_tokenizer_json

    pin, data = synthetic["o200k_base"]
    (tmp_path / "m" / "tokenizer").mkdir(parents=True)
    (tmp_path / "m" / "tokenizer" / pin.file).write_bytes(data)
    r = hv(capsys, "verify", str(tmp_path / "m"), "--json")
    assert r.code == 0 and [c["name"] for c in r.json()["checks"]] == ["o200k_base"]

    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "tokenizer.json").write_text(json.dumps(to_tokenizer_json(data)))
    r = hv(capsys, "verify", str(tmp_path / "hf"), "--json")
    assert r.code == 0, r.out
    (check,) = r.json()["checks"]
    assert (check["name"], check["status"]) == ("o200k_base", "ok") and check["detail"].startswith("rebuilt copy ")
    changed = to_tokenizer_json(data)
    vocab = changed["model"]["vocab"]  # type: ignore[index]
    last = max(vocab, key=vocab.get)
    vocab[last + "x"] = vocab.pop(last)
    (tmp_path / "hf" / "tokenizer.json").write_text(json.dumps(changed))
    r = hv(capsys, "verify", str(tmp_path / "hf"))
    assert r.code == 1 and "tokenizer.json" in r.err


def test_verify_without_arguments_checks_every_tier_that_is_set(
    capsys: pytest.CaptureFixture, synthetic: Synthetic, package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pin, data = synthetic["o200k_base"]
    r = hv(capsys, "verify", "--json")
    assert r.code == 0
    tiers = {(c["tier"], c["status"]) for c in r.json()["checks"]}
    assert tiers == {("package", "ok"), ("cache", "absent")}

    harmony_cache = tmp_path / "rs-cache"
    harmony_cache.mkdir()
    (harmony_cache / url_cache_name(pin.urls[0])).write_bytes(data)
    monkeypatch.setenv("TIKTOKEN_RS_CACHE_DIR", str(harmony_cache))
    env_file = tmp_path / "env.tiktoken"
    env_file.write_bytes(flipped(data))
    monkeypatch.setenv("HARMONY_VOCAB_O200K_BASE", str(env_file))
    monkeypatch.setenv("HARMONY_VOCAB_MODEL_DIR", str(tmp_path / "no-model"))
    r = hv(capsys, "verify", "--json")
    assert r.code == 1
    checks = r.json()["checks"]
    o200k = [c for c in checks if c["name"] == "o200k_base"]
    assert [c["tier"] for c in o200k] == ["environment", "model", "package", "cache", "cache", "cache"]  # lookup order
    assert {"tier": "environment", "name": "o200k_base", "path": str(env_file), "status": "failed",
            "detail": o200k[0]["detail"]} == o200k[0]
    assert o200k[1]["status"] == "failed" and "not a directory" in o200k[1]["detail"]
    assert {"tier": "cache", "name": "o200k_base", "status": "ok",
            "path": str(harmony_cache / url_cache_name(pin.urls[0]))}.items() <= \
        [c for c in checks if c["tier"] == "cache" and c["status"] == "ok"][0].items()
    assert "3 of" in r.err  # the environment file, and the model directory for each vocab


# ------------------------------------------------------------------------------ export

def test_export_flat_writes_verified_files_and_sha256sums(
    capsys: pytest.CaptureFixture, synthetic: Synthetic, package: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    r = hv(capsys, "export", str(dest))
    assert r.code == 0, r.err
    for name, (pin, data) in synthetic.items():
        assert (dest / pin.file).read_bytes() == data
    sums = (dest / "SHA256SUMS").read_text()
    assert sums == "".join(f"{synthetic[n][0].sha256}  {synthetic[n][0].file}\n" for n in sorted(synthetic, key=lambda n: synthetic[n][0].file))
    if shutil.which("sha256sum"):
        check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=dest, capture_output=True, text=True)
        assert check.returncode == 0 and check.stdout.count(": OK") == 2
    assert not [p for p in dest.iterdir() if p.name.endswith(".part")]
    assert [line.split()[0] for line in r.out.splitlines()] == ["written"] * 3
    # Again: nothing to do.
    r = hv(capsys, "export", str(dest))
    assert [line.split()[0] for line in r.out.splitlines()] == ["unchanged"] * 3


def test_export_encodings_layout_is_found_as_a_model_dir(
    capsys: pytest.CaptureFixture, synthetic: Synthetic, package: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "model"
    assert hv(capsys, "export", str(dest), "--layout", "encodings", "--name", "o200k_base").code == 0
    assert sorted(p.name for p in (dest / "encodings").iterdir()) == ["SHA256SUMS", "o200k_base.tiktoken"]
    out = hv(capsys, "resolve", "o200k_base", "--model-dir", str(dest), "--json").json()
    assert (out["tier"], out["paths"]) == ("model", [str(dest / "encodings" / "o200k_base.tiktoken")])
    # Adding the other vocab later keeps the first one's line.
    assert hv(capsys, "export", str(dest), "--layout", "encodings", "--name", "cl100k_base").code == 0
    assert len((dest / "encodings" / "SHA256SUMS").read_text().splitlines()) == 2


def test_export_refuses_to_overwrite_a_different_file_without_force(
    capsys: pytest.CaptureFixture, synthetic: Synthetic, package: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    other = dest / "o200k_base.tiktoken"
    other.write_bytes(b"someone else's file\n")
    r = hv(capsys, "export", str(dest))
    assert r.code == 1 and r.out == ""
    assert len(r.err.splitlines()) == 1 and str(other) in r.err and "--force" in r.err
    assert other.read_bytes() == b"someone else's file\n"
    assert sorted(p.name for p in dest.iterdir()) == ["o200k_base.tiktoken"]  # nothing written at all
    (dest / "SHA256SUMS").write_text("not a sums file\n")
    r = hv(capsys, "export", str(dest), "--force")
    assert r.code == 0, r.err
    assert other.read_bytes() == synthetic["o200k_base"][1]
    assert "not a sums file" not in (dest / "SHA256SUMS").read_text()


def test_export_of_a_vocab_found_nowhere_exits_1(capsys: pytest.CaptureFixture, synthetic: Synthetic, tmp_path: Path) -> None:
    r = hv(capsys, "export", str(tmp_path / "out"))
    assert r.code == 1 and "no verified copy" in r.err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------ env

WEIRD = "dir with space, 'quote', \"dq\", $HOME and \\backslash"


def test_env_sh_round_trips_through_a_shell(capsys: pytest.CaptureFixture, synthetic: Synthetic, package: Path, tmp_path: Path) -> None:
    directory = tmp_path / WEIRD
    bundle(synthetic, directory)
    r = hv(capsys, "env", "--dir", str(directory))
    assert r.code == 0, r.err
    assert r.out.count("\n") == 1 and r.out.startswith("export TIKTOKEN_ENCODINGS_BASE=")
    shell = subprocess.run(["sh", "-c", r.out + 'printf "%s\\n" "$TIKTOKEN_ENCODINGS_BASE"'],
                           capture_output=True, text=True, check=True, env={"PATH": os.environ["PATH"]})
    assert shell.stdout.splitlines() == [str(directory)]
    # Default: the bundled directory. Only the one variable: the start-up registration and the
    # tiktoken hook stay on (an operator's TIKTOKEN_ENCODINGS_BASE is kept by both).
    assert hv(capsys, "env").out == f"export TIKTOKEN_ENCODINGS_BASE={package}\n"


def test_env_fish_dockerfile_json(capsys: pytest.CaptureFixture, synthetic: Synthetic, tmp_path: Path) -> None:
    directory = tmp_path / WEIRD
    bundle(synthetic, directory, "o200k_base")  # openai-harmony reads only o200k_base
    r = hv(capsys, "env", "--dir", str(directory), "--format", "fish")
    assert (r.code, r.err) == (0, "")
    fish_quoted = str(directory).replace("\\", "\\\\").replace("'", "\\'")
    assert r.out.splitlines() == [f"set -gx TIKTOKEN_ENCODINGS_BASE '{fish_quoted}'"]
    if shutil.which("fish"):
        shell = subprocess.run(["fish", "-c", r.out + "echo $TIKTOKEN_ENCODINGS_BASE"], capture_output=True, text=True)
        assert shell.stdout.strip() == str(directory)
    r = hv(capsys, "env", "--dir", str(directory), "--format", "dockerfile")
    escaped = str(directory).replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    assert r.out.splitlines() == [f'ENV TIKTOKEN_ENCODINGS_BASE="{escaped}"']
    assert "HARMONY_VOCAB_AUTOREGISTER" not in r.out
    data = hv(capsys, "env", "--dir", str(directory), "--json").json()
    assert hv(capsys, "env", "--dir", str(directory), "--format", "json").json() == data  # the alias
    assert data == {"ok": True, "directory": str(directory), "variables": {"TIKTOKEN_ENCODINGS_BASE": str(directory)},
                    "error": None}


def test_env_with_a_relative_dir_prints_absolute_paths(
    capsys: pytest.CaptureFixture, synthetic: Synthetic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle(synthetic, tmp_path / "vocab")
    monkeypatch.chdir(tmp_path)
    r = hv(capsys, "env", "--dir", "vocab", "--json")
    assert r.code == 0, r.err
    report = r.json()
    assert report["directory"] == report["variables"]["TIKTOKEN_ENCODINGS_BASE"] == str(tmp_path / "vocab")


def test_env_refuses_a_directory_that_would_not_work(capsys: pytest.CaptureFixture, synthetic: Synthetic, tmp_path: Path) -> None:
    r = hv(capsys, "env", "--dir", str(tmp_path / "nowhere"))
    assert r.code == 1 and r.out == "" and len(r.err.splitlines()) == 1
    assert str(tmp_path / "nowhere") in r.err and "harmony-vocab export DIR" in r.err
    bundle(synthetic, tmp_path / "only-cl", "cl100k_base")
    r = hv(capsys, "env", "--dir", str(tmp_path / "only-cl"))
    assert r.code == 1 and "o200k_base.tiktoken: missing" in r.err
    (tmp_path / "only-cl" / "o200k_base.tiktoken").write_bytes(flipped(synthetic["o200k_base"][1]))
    r = hv(capsys, "env", "--dir", str(tmp_path / "only-cl"))
    assert r.code == 1 and "sha256 mismatch" in r.err
    # --json: still JSON on stdout, the error in it and on stderr
    r = hv(capsys, "env", "--dir", str(tmp_path / "nowhere"), "--json")
    assert r.code == 1 and len(r.err.splitlines()) == 1
    data = r.json()
    assert (data["ok"], data["directory"], data["variables"]) == (False, str(tmp_path / "nowhere"), {})
    assert data["error"] and r.err == f"harmony-vocab: error: {data['error']}\n"


# ------------------------------------------------------------------------------ seed-cache

def test_seed_cache_into_given_and_default_dirs(
    capsys: pytest.CaptureFixture, synthetic: Synthetic, package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = hv(capsys, "seed-cache", "--tiktoken", str(tmp_path / "tk"), "--name", "cl100k_base")
    assert r.code == 0, r.err
    pin, data = synthetic["cl100k_base"]
    assert [p.name for p in (tmp_path / "tk").iterdir()] == [url_cache_name(pin.urls[0])]
    assert (tmp_path / "tk" / url_cache_name(pin.urls[0])).read_bytes() == data
    assert not (tmp_path / "rs").exists()

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tk2"))
    monkeypatch.setenv("TIKTOKEN_RS_CACHE_DIR", str(tmp_path / "rs"))
    r = hv(capsys, "seed-cache")
    assert r.code == 0
    assert len(r.out.splitlines()) == 4
    for name, (pin, data) in synthetic.items():
        for directory in ("tk2", "rs"):
            assert (tmp_path / directory / url_cache_name(pin.urls[0])).read_bytes() == data
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")  # tiktoken's own switch for "no cache"
    r = hv(capsys, "seed-cache")
    assert r.code == 1 and r.err.splitlines() == [
        "harmony-vocab: error: tiktoken's cache is disabled (TIKTOKEN_CACHE_DIR is empty): pass a directory"]


# ------------------------------------------------------------------------------ fetch

@pytest.fixture
def served(synthetic: Synthetic, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Synthetic:
    """Pins whose every URL is on the local server (so nothing ever leaves 127.0.0.1); the
    mirror variable points at /mirror/."""
    for name, (pin, data) in list(synthetic.items()):
        local = make_pin(name, data, urls=[httpserver.url_for(f"/canonical/{pin.file}")])
        monkeypatch.setitem(PINS, name, local)
        synthetic[name] = (local, data)
        httpserver.expect_request(f"/mirror/{pin.file}").respond_with_data(data)
    monkeypatch.setenv("HARMONY_VOCAB_BASE_URL", httpserver.url_for("/mirror/"))
    monkeypatch.setenv("HARMONY_VOCAB_CACHE_DIR", str(tmp_path / "cache"))
    return synthetic


def test_fetch_downloads_quietly_into_the_cache(capsys: pytest.CaptureFixture, served: Synthetic, tmp_path: Path, httpserver: HTTPServer) -> None:
    r = hv(capsys, "fetch")
    assert r.code == 0, r.err
    assert r.err == ""
    expected = [str(tmp_path / "cache" / served[n][0].file) for n in served]
    assert r.out.splitlines() == expected
    for name, (pin, data) in served.items():
        assert (tmp_path / "cache" / pin.file).read_bytes() == data
    requests_made = len(httpserver.log)
    assert hv(capsys, "fetch", "--name", "o200k_base").out.splitlines() == expected[:1]
    assert len(httpserver.log) == requests_made  # already verified in the cache: no request
    assert hv(capsys, "fetch", "--name", "o200k_base", "--force").code == 0
    assert len(httpserver.log) == requests_made + 1


def test_fetch_name_repeated_keeps_the_order_given(capsys: pytest.CaptureFixture, served: Synthetic, tmp_path: Path) -> None:
    paths = {n: str(tmp_path / "cache" / served[n][0].file) for n in served}
    r = hv(capsys, "fetch", "--name", "cl100k_base", "--name", "o200k_base", "--name", "cl100k_base")
    assert (r.code, r.out.splitlines()) == (0, [paths["cl100k_base"], paths["o200k_base"]])


def test_fetch_shows_progress_on_a_terminal(
    capsys: pytest.CaptureFixture, served: Synthetic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    assert cli.main(["fetch", "--name", "cl100k_base"]) == 0
    pin = served["cl100k_base"][0]
    assert err.getvalue().startswith(f"\r{pin.file}:") and "MB" in err.getvalue()
    assert capsys.readouterr().out == f"{tmp_path / 'cache' / pin.file}\n"
    # the control: not a terminal, nothing on stderr (test_fetch_downloads_quietly_into_the_cache)


def test_fetch_ends_its_progress_line_before_an_error(
    served: Synthetic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    """The whole body arrives (progress shown) but fails its sha256: the error starts a line of its own."""
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    pin, data = served["cl100k_base"]
    httpserver.expect_request(f"/bad/{pin.file}").respond_with_data(bytes(len(data)))  # right size, wrong bytes
    monkeypatch.setenv("HARMONY_VOCAB_BASE_URL", httpserver.url_for("/bad/"))
    monkeypatch.setattr("harmony_vocab.download.TRIES", 1)
    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    assert cli.main(["fetch", "--name", "cl100k_base"]) == 1
    lines = err.getvalue().split("\n")
    assert lines[0].startswith(f"\r{pin.file}:") and "MB" in lines[0]
    assert lines[1].startswith("harmony-vocab: error: could not download a verified"), err.getvalue()


def test_fetch_with_stderr_closed_still_works(served: Synthetic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stderr", closed)
    assert cli.main(["fetch", "--name", "cl100k_base"]) == 0
    assert (tmp_path / "cache" / served["cl100k_base"][0].file).read_bytes() == served["cl100k_base"][1]


def test_fetch_failure_exits_1_and_names_every_url(
    capsys: pytest.CaptureFixture, served: Synthetic, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HARMONY_VOCAB_BASE_URL", httpserver.url_for("/nothing-here/"))
    monkeypatch.setattr("harmony_vocab.download.TRIES", 1)
    r = hv(capsys, "fetch", "--name", "o200k_base")
    assert r.code == 1 and r.out == ""
    assert "could not download a verified o200k_base.tiktoken" in r.err
    assert "/nothing-here/o200k_base.tiktoken" in r.err and "/canonical/o200k_base.tiktoken" in r.err
    assert not (tmp_path / "cache" / "o200k_base.tiktoken").exists()
    monkeypatch.setenv("HARMONY_VOCAB_BASE_URL", "ftp://mirror")
    r = hv(capsys, "fetch", "--name", "o200k_base")
    assert r.code == 1 and "HARMONY_VOCAB_BASE_URL='ftp://mirror' is not an http(s) URL" in r.err


def test_fetch_with_the_offline_switch_opens_no_connection(
    capsys: pytest.CaptureFixture, served: Synthetic, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HARMONY_VOCAB_OFFLINE", "1")
    r = hv(capsys, "fetch", "--name", "o200k_base")
    assert r.code == 1 and r.out == ""
    assert "HARMONY_VOCAB_OFFLINE=1 forbids every download" in r.err
    assert len(httpserver.log) == 0
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_fetch_cut_off_by_the_download_deadline(
    capsys: pytest.CaptureFixture, served: Synthetic, raw_server: Callable[[Handler], RawServer],
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pin, data = served["o200k_base"]
    slow = raw_server(trickle(data, head=100, step=16, pause=0.05))
    monkeypatch.setenv("HARMONY_VOCAB_BASE_URL", slow.url("/slow/"))
    monkeypatch.setenv("HARMONY_VOCAB_DOWNLOAD_DEADLINE", "0.5")
    r = hv(capsys, "fetch", "--name", "o200k_base")
    assert r.code == 1 and r.out == "" and "Traceback" not in r.err
    assert r.err.splitlines()[0].startswith("harmony-vocab: error: could not download a verified o200k_base.tiktoken")
    assert (f"[download] {slow.url('/slow/o200k_base.tiktoken')}: stopped after " in r.err
            and f"of {pin.size} bytes: the download deadline of 0.5s (HARMONY_VOCAB_DOWNLOAD_DEADLINE) had passed" in r.err)
    assert not (tmp_path / "cache").exists() or os.listdir(tmp_path / "cache") == []


@pytest.mark.parametrize("value", ["ten", "0"])
def test_fetch_with_a_bad_deadline_setting_exits_1_with_one_line(
    capsys: pytest.CaptureFixture, served: Synthetic, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("HARMONY_VOCAB_DOWNLOAD_DEADLINE", value)
    r = hv(capsys, "fetch", "--name", "o200k_base")
    assert (r.code, r.out) == (1, "")
    assert r.err.startswith(f"harmony-vocab: error: HARMONY_VOCAB_DOWNLOAD_DEADLINE={value!r} is not a number")
    assert r.err.count("\n") == 1
    assert len(httpserver.log) == 0


def test_credentials_in_the_mirror_url_are_never_printed(
    capsys: pytest.CaptureFixture, served: Synthetic, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fetch's error, resolve's trace (text and JSON) and doctor (text and JSON) show the mirror
    as http://***@host/...; the server still receives the credentials."""
    port = httpserver.port
    monkeypatch.setenv("HARMONY_VOCAB_BASE_URL", f"http://mirror-user:s3cret@127.0.0.1:{port}/private/")
    monkeypatch.setattr("harmony_vocab.download.TRIES", 1)
    shown = f"http://***@127.0.0.1:{port}/private/o200k_base.tiktoken"
    outputs = []
    r = hv(capsys, "fetch", "--name", "o200k_base")
    assert r.code == 1 and f"[download] {shown}: HTTP 500" in r.err
    outputs.append(r.out + r.err)
    for argv in (["resolve", "o200k_base", "--download"], ["resolve", "o200k_base", "--download", "--json"]):
        r = hv(capsys, *argv)
        assert r.code == 1 and shown in r.out + r.err
        outputs.append(r.out + r.err)
    r = hv(capsys, "doctor", "--json")
    assert r.json()["mirror"] == f"http://***@127.0.0.1:{port}/private/"
    outputs.append(r.out + r.err)
    r = hv(capsys, "doctor")
    outputs.append(r.out + r.err)
    for output in outputs:
        assert "s3cret" not in output and "mirror-user" not in output, output
    sent = {r.headers.get("Authorization") for r, _ in httpserver.log if r.path.startswith("/private/")}
    assert sent == {"Basic " + base64.b64encode(b"mirror-user:s3cret").decode()}


@pytest.mark.parametrize("value", ["/srv/vocab", "file:///srv/vocab"])
def test_a_non_http_mirror_gets_advice_that_works_at_run_time(
    capsys: pytest.CaptureFixture, served: Synthetic, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    monkeypatch.setenv("HARMONY_VOCAB_BASE_URL", value)
    r = hv(capsys, "fetch", "--name", "o200k_base")
    assert (r.code, r.out) == (1, "")
    assert r.err == (
        f"harmony-vocab: error: HARMONY_VOCAB_BASE_URL={value!r} is not an http(s) URL: expected "
        "http(s)://host/path/ (the directory that holds o200k_base.tiktoken); for files on a local disk, "
        "set HARMONY_VOCAB_O200K_BASE, TIKTOKEN_ENCODINGS_BASE or HARMONY_VOCAB_MODEL_DIR\n")
    # each piece of that advice works at run time, the mirror setting left as it is
    local = tmp_path / "local"
    local.mkdir()
    pin, data = served["o200k_base"]
    (local / pin.file).write_bytes(data)
    for variable, setting in (("HARMONY_VOCAB_O200K_BASE", local / pin.file), ("TIKTOKEN_ENCODINGS_BASE", local),
                              ("HARMONY_VOCAB_MODEL_DIR", local)):
        with monkeypatch.context() as m:
            m.setenv(variable, str(setting))
            r = hv(capsys, "path", "o200k_base")
            assert (r.code, r.out, r.err) == (0, f"{local / pin.file}\n", ""), variable


# ------------------------------------------------------------------------------ doctor

def test_doctor_json_shape_and_what_unmodified_tools_would_do(
    capsys: pytest.CaptureFixture, synthetic: Synthetic, package: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the registration not set in this environment, openai-harmony (installed here) would
    download o200k_base: exit 1. Seeded caches make it offline: exit 0."""
    monkeypatch.setenv("TIKTOKEN_RS_CACHE_DIR", str(tmp_path / "rs"))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tk"))
    r = hv(capsys, "doctor", "--json")
    assert r.code == 1, r.out
    report = r.json()
    assert set(report) == {"ok", "checked", "harmony_vocab", "python", "packages", "frozen_by", "situation", "fixes",
                           "tiktoken_hook", "tiktoken_encodings_base", "registered_tier", "mirror", "cache_dir",
                           "vocabs"}
    assert report["harmony_vocab"]["version"] == harmony_vocab.__version__
    assert {"openai-harmony", "tiktoken", "requests"} <= set(report["packages"])
    o200k, cl100k = report["vocabs"]["o200k_base"], report["vocabs"]["cl100k_base"]
    assert set(o200k) == {"ok", "tier", "path", "error", "warnings", "openai_harmony", "tiktoken"}
    assert (o200k["ok"], o200k["tier"], o200k["path"]) == (True, "package", str(package / "o200k_base.tiktoken"))
    assert o200k["openai_harmony"]["status"] == "network"
    assert cl100k["openai_harmony"]["status"] == "not used"
    assert "TIKTOKEN_ENCODINGS_BASE" not in os.environ  # doctor did not register in this process
    assert "NOT OK" in hv(capsys, "doctor").out

    assert hv(capsys, "seed-cache").code == 0
    r = hv(capsys, "doctor", "--json")
    assert r.code == 0, r.out
    report = r.json()
    assert report["ok"] is True and report["vocabs"]["o200k_base"]["openai_harmony"]["status"] == "offline"
    assert all(v["tiktoken"]["status"] == "offline" for v in report["vocabs"].values())
    assert "ok: every installed tool loads every installed vocab offline" in hv(capsys, "doctor").out


def test_doctor_exit_1_when_a_vocab_is_found_nowhere(capsys: pytest.CaptureFixture, synthetic: Synthetic, package: Path) -> None:
    (package / "cl100k_base.tiktoken").unlink()
    r = hv(capsys, "doctor")
    assert r.code == 1
    assert "cl100k_base  NOT FOUND" in r.out and "harmony-vocab resolve cl100k_base" in r.out
    report = hv(capsys, "doctor", "--json").json()
    assert report["vocabs"]["cl100k_base"]["ok"] is False
    assert report["vocabs"]["o200k_base"]["ok"] is True


# ============================================================================== the installed wheel

def hvw(venv: Path, home: Path, *argv: str, code: int = 0, **env: str) -> subprocess.CompletedProcess:
    """Run the installed console script in a clean environment; check its exit code."""
    proc = run([venv / "bin" / "harmony-vocab", *argv], env=clean_env(home, **env), check=False)
    assert proc.returncode == code, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def site_data(venv: Path) -> Path:
    (data,) = venv.glob("lib/python*/site-packages/harmony_vocab/data")
    return data


@pytest.mark.integration
def test_wheel_version_help_and_module(wheel_venv: Path, tmp_path: Path) -> None:
    out = hvw(wheel_venv, tmp_path, "--version").stdout
    assert out.strip() == f"harmony-vocab {harmony_vocab.__version__}"
    proc = run([venv_python(wheel_venv), "-m", "harmony_vocab", "--version"], env=clean_env(tmp_path))
    assert proc.stdout == out
    for command in COMMANDS:
        assert "exit codes:" in hvw(wheel_venv, tmp_path, command, "--help").stdout


@pytest.mark.integration
def test_wheel_path_resolve_and_bad_usage(wheel_venv: Path, tmp_path: Path) -> None:
    data = site_data(wheel_venv)
    for name, pin in CORE.items():
        out = hvw(wheel_venv, tmp_path, "path", name).stdout
        assert out == f"{data / pin.file}\n"
        assert hashlib.sha256(Path(out.strip()).read_bytes()).hexdigest() == pin.sha256
        assert hvw(wheel_venv, tmp_path, "path", name, "--bundled").stdout == out
    # The .pth registered the package directory: it counts as the package tier, not environment.
    result = json.loads(hvw(wheel_venv, tmp_path, "resolve", "o200k_base", "--json").stdout)
    assert (result["ok"], result["tier"], result["paths"]) == (True, "package", [str(data / "o200k_base.tiktoken")])
    assert "set by harmony-vocab's start-up registration" in result["attempts"][2]["outcome"]

    proc = hvw(wheel_venv, tmp_path, "resolve", "gpt3", code=2)
    assert proc.stdout == "" and len(proc.stderr.splitlines()) == 1 and "unknown vocab name 'gpt3'" in proc.stderr
    proc = hvw(wheel_venv, tmp_path, "resolve", "o200k_base", "--vocab-path", str(tmp_path / "nope"), code=1)
    assert "Traceback" not in proc.stderr and "[explicit]" in proc.stdout and "missing" in proc.stdout
    bad = tmp_path / "bad.tiktoken"
    bad.write_bytes(b"x" * PINS["o200k_base"].size)
    proc = hvw(wheel_venv, tmp_path, "resolve", "o200k_base", "--vocab-path", str(bad), code=1)
    assert proc.stderr.count("\n") == 1 and f"expected {PINS['o200k_base'].sha256}" in proc.stderr


@pytest.mark.integration
def test_wheel_resolve_when_every_tier_fails(dist: Dict[str, Path], make_venv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A damaged installation (bundled file truncated) with every other tier set and failing:
    exit 1, one error line, then every place tried, in order, and what to do."""
    venv = make_venv(str(dist["wheel"]))
    bundled = site_data(venv) / "o200k_base.tiktoken"
    bundled.write_bytes(bundled.read_bytes()[:1000])
    bad_env = tmp_path / "env.tiktoken"
    bad_env.write_bytes(b"truncated")
    env = dict(HARMONY_VOCAB_O200K_BASE=str(bad_env), HARMONY_VOCAB_MODEL_DIR=str(tmp_path / "none"),
               TIKTOKEN_ENCODINGS_BASE=str(tmp_path), HARMONY_VOCAB_CACHE_DIR=str(tmp_path / "cache"))
    proc = hvw(venv, tmp_path, "resolve", "o200k_base", code=1, **env)
    lines = proc.stdout.splitlines()
    assert lines[0] == "places looked at, in order:"
    assert "[package]" in proc.stdout and "size mismatch: expected 3613922 bytes, got 1000" in proc.stdout
    numbered = [line.split("]")[0].split("[")[1] for line in lines[1:]]
    assert numbered == ["explicit", "environment", "environment", "model", "package", "cache", "cache", "cache",
                        "download"]
    assert "[download] https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken: not allowed" in proc.stdout
    line, *advice = proc.stderr.splitlines()
    assert line.startswith("harmony-vocab: error: no verified copy of the o200k_base vocab found.")
    assert advice[0] == "To fix, do one of:" and all(a.startswith("  - ") for a in advice[1:])
    result = json.loads(hvw(venv, tmp_path, "resolve", "o200k_base", "--json", code=1, **env).stdout)
    assert [a["tier"] for a in result["attempts"]][:3] == ["explicit", "environment", "environment"]
    assert not any(a["ok"] for a in result["attempts"])
    assert hvw(venv, tmp_path, "verify", code=1, **env).stdout.count("FAILED") >= 3
    assert json.loads(hvw(venv, tmp_path, "doctor", "--json", code=1, **env).stdout)["vocabs"]["o200k_base"]["ok"] is False
    proc = hvw(venv, tmp_path, "path", "o200k_base", "--bundled", code=1, **env)
    assert proc.stdout == "" and proc.stderr.count("\n") == 1
    assert f"{bundled} is damaged (size mismatch" in proc.stderr and "pip install --force-reinstall" in proc.stderr


STDOUT_CLOSED = "harmony-vocab: error: standard output is closed: harmony-vocab prints its results there\n"
EVERY_COMMAND_LINE = [[command, *argv] for command, argv in (
    ("path", ["o200k_base"]), ("resolve", ["o200k_base", "--json"]), ("verify", []), ("export", ["{tmp}/out"]),
    ("env", []), ("seed-cache", ["--tiktoken", "{tmp}/tk"]), ("fetch", ["--name", "o200k_base"]), ("doctor", []),
)] + [["--help"], ["--version"], ["path", "--help"], ["nope"]]


def script_env(home: Path, buffered: bool, **extra: str) -> Dict[str, str]:
    """A clean environment; `buffered`: stdout block-buffered as usual, not as PYTHONUNBUFFERED
    makes it (a write error then shows at the interpreter's exit flush, not at the write)."""
    env = clean_env(home, **extra)
    env.pop("PYTHONUNBUFFERED", None)
    return env if buffered else {**env, "PYTHONUNBUFFERED": "1"}


def closed_stdout_run(venv: Path, home: Path, argv: List[str], stdout: str, stderr: str = "",
                      buffered: bool = True) -> subprocess.CompletedProcess:
    """The console script with its stdout (and stderr) as `sh` redirections give them."""
    args = [a.replace("{tmp}", str(home)) for a in argv]
    return run(["sh", "-c", f'"$0" "$@" {stdout} {stderr}', venv / "bin" / "harmony-vocab", *args],
               env=script_env(home, buffered, HARMONY_VOCAB_CACHE_DIR=str(home / "cache")), check=False)


@pytest.mark.integration
@pytest.mark.parametrize("argv", EVERY_COMMAND_LINE, ids=" ".join)
def test_wheel_with_stdout_closed_or_full_says_so_in_one_line(wheel_venv: Path, tmp_path: Path, argv: List[str]) -> None:
    """Every command line: stdout closed (>&-) is refused before anything is done; stdout on a full
    disk is one line naming it; a closed stderr as well is exit 1, silently. Never a traceback."""
    proc = closed_stdout_run(wheel_venv, tmp_path, argv, ">&-")
    assert (proc.returncode, proc.stderr) == (1, STDOUT_CLOSED)
    assert not (tmp_path / "out").exists() and not (tmp_path / "tk").exists()  # nothing done
    proc = closed_stdout_run(wheel_venv, tmp_path, argv, ">&-", "2>&-")
    assert proc.returncode == 1
    for buffered in (True, False):
        if argv[0] == "nope" or not os.path.exists("/dev/full"):
            break
        proc = closed_stdout_run(wheel_venv, tmp_path, argv, ">/dev/full", buffered=buffered)
        if argv[0] == "fetch":  # the extra is not installed: an error before any output
            assert proc.returncode == 1 and "pip install 'harmony-vocab[download]'" in proc.stderr
        else:
            assert (proc.returncode, proc.stderr) == (
                1, "harmony-vocab: error: cannot write to standard output: No space left on device\n"), buffered


@pytest.mark.integration
def test_wheel_with_its_reader_gone_exits_1_quietly(wheel_venv: Path, tmp_path: Path) -> None:
    """A pipe whose reader has gone (| head, already done): exit 1, nothing on stderr (no
    "Exception ignored ... BrokenPipeError" from the interpreter's exit)."""
    for argv in (["doctor"], ["path", "o200k_base"], ["--help"]):
        for buffered in (True, False):
            read_end, write_end = os.pipe()
            os.close(read_end)
            proc = subprocess.run([wheel_venv / "bin" / "harmony-vocab", *argv], stdout=write_end,
                                  stderr=subprocess.PIPE, env=script_env(tmp_path, buffered), text=True)
            os.close(write_end)
            assert (proc.returncode, proc.stderr) == (1, ""), (argv, buffered)


@pytest.mark.integration
def test_wheel_verify(wheel_venv: Path, tmp_path: Path) -> None:
    out = hvw(wheel_venv, tmp_path, "verify").stdout
    assert out.count("ok      ") == 2 and "[package]" in out
    checks = json.loads(hvw(wheel_venv, tmp_path, "verify", str(SHARED_VOCAB), "--json").stdout)["checks"]
    assert {c["name"] for c in checks if c["status"] == "ok"} == set(CORE)
    bad = tmp_path / "o200k_base.tiktoken"
    bad.write_bytes((SHARED_VOCAB / "o200k_base.tiktoken").read_bytes()[:-1] + b"\r")
    proc = hvw(wheel_venv, tmp_path, "verify", str(bad), code=1)
    assert "sha256 mismatch" in proc.stdout and "sha256 mismatch" in proc.stderr
    (tmp_path / "empty").mkdir()
    proc = hvw(wheel_venv, tmp_path, "verify", str(tmp_path / "empty"), code=1)
    assert "holds no vocab file" in proc.stderr
    hvw(wheel_venv, tmp_path, "verify", str(tmp_path / "missing.tiktoken"), code=1)
    proc = hvw(wheel_venv, tmp_path, "verify", code=1, HARMONY_VOCAB_O200K_BASE=str(bad))
    assert "[environment]" in proc.stdout


@pytest.mark.integration
def test_wheel_export_then_model_dir_resolution(wheel_venv: Path, tmp_path: Path) -> None:
    dest = tmp_path / "mirror"
    hvw(wheel_venv, tmp_path, "export", str(dest), "--layout", "encodings")
    check = run(["sha256sum", "-c", "SHA256SUMS"], cwd=dest / "encodings")
    assert check.stdout.count(": OK") == 2
    for name in CORE:
        result = json.loads(hvw(wheel_venv, tmp_path, "resolve", name, "--model-dir", str(dest), "--json").stdout)
        assert (result["tier"], result["paths"]) == ("model", [str(dest / "encodings" / f"{name}.tiktoken")])
    # Onto a different file: refused, exit 1, untouched; --force replaces it.
    target = dest / "encodings" / "cl100k_base.tiktoken"
    target.write_bytes(b"local edit\n")
    proc = hvw(wheel_venv, tmp_path, "export", str(dest), "--layout", "encodings", code=1)
    assert "--force" in proc.stderr and str(target) in proc.stderr
    assert target.read_bytes() == b"local edit\n"
    hvw(wheel_venv, tmp_path, "export", str(dest), "--layout", "encodings", "--force")
    assert hashlib.sha256(target.read_bytes()).hexdigest() == PINS["cl100k_base"].sha256


@pytest.mark.integration
def test_wheel_env_makes_unmodified_openai_harmony_load_an_exported_dir(full_venv: Path, tmp_path: Path) -> None:
    dest = tmp_path / "vocab dir"
    hvw(full_venv, tmp_path, "export", str(dest))
    data = json.loads(hvw(full_venv, tmp_path, "env", "--json").stdout)
    assert data["directory"] == str(site_data(full_venv))
    assert data["variables"] == {"TIKTOKEN_ENCODINGS_BASE": str(site_data(full_venv))}
    settings = hvw(full_venv, tmp_path, "env", "--dir", str(dest)).stdout
    script = (
        "import os\n"
        "from openai_harmony import HarmonyEncodingName, load_harmony_encoding\n"
        "enc = load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)\n"
        "print(os.environ['TIKTOKEN_ENCODINGS_BASE'], len(enc.encode('hello world')))\n"
    )
    cmd = f'{settings}\nexec "{venv_python(full_venv)}" -c "$1"'
    proc = run(offline(["sh", "-c", cmd, "sh", script]), env=clean_env(tmp_path))
    assert proc.stdout.rsplit(" ", 1) == [str(dest), "2\n"]


@pytest.mark.integration
def test_wheel_seed_cache_serves_unmodified_tiktoken_and_openai_harmony_offline(full_venv: Path, tmp_path: Path) -> None:
    tk, rs = tmp_path / "tiktoken-cache", tmp_path / "harmony-cache"
    out = hvw(full_venv, tmp_path, "seed-cache", "--tiktoken", str(tk), "--harmony", str(rs)).stdout
    assert len(out.splitlines()) == 4
    for pin in CORE.values():
        for directory in (tk, rs):
            assert hashlib.sha256((directory / url_cache_name(pin.urls[0])).read_bytes()).hexdigest() == pin.sha256
    tiktoken_code = "import tiktoken; print(tiktoken.get_encoding('cl100k_base').encode('hello world'))"
    proc = run(offline([venv_python(full_venv), "-c", tiktoken_code]),
               env=clean_env(tmp_path, TIKTOKEN_CACHE_DIR=str(tk)))
    assert proc.stdout.strip() == "[15339, 1917]"
    harmony_code = textwrap.dedent("""
        import os
        from openai_harmony import HarmonyEncodingName, load_harmony_encoding
        assert "TIKTOKEN_ENCODINGS_BASE" not in os.environ
        enc = load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)
        print(enc.decode_utf8(enc.encode("hello world")))
    """)
    proc = run(offline([venv_python(full_venv), "-c", harmony_code]),
               env=clean_env(tmp_path, TIKTOKEN_RS_CACHE_DIR=str(rs), HARMONY_VOCAB_AUTOREGISTER="0"))
    assert proc.stdout.strip() == "hello world"
    # And the same command with the default places, driven by the variables.
    out = hvw(full_venv, tmp_path, "seed-cache", TIKTOKEN_CACHE_DIR=str(tmp_path / "tk2"),
              TIKTOKEN_RS_CACHE_DIR=str(tmp_path / "rs2")).stdout
    assert str(tmp_path / "tk2") in out and str(tmp_path / "rs2") in out


@pytest.mark.integration
def test_wheel_fetch_from_a_local_mirror(full_venv: Path, tmp_path: Path, httpserver: HTTPServer) -> None:
    data = site_data(full_venv)
    for pin in CORE.values():
        httpserver.expect_request(f"/mirror/{pin.file}").respond_with_data((data / pin.file).read_bytes())
    cache = tmp_path / "hv-cache"
    env = dict(HARMONY_VOCAB_BASE_URL=httpserver.url_for("/mirror/"), HARMONY_VOCAB_CACHE_DIR=str(cache))
    proc = hvw(full_venv, tmp_path, "fetch", **env)
    assert proc.stdout.splitlines() == [str(cache / pin.file) for pin in CORE.values()]
    assert proc.stderr == ""  # not a terminal: quiet
    for pin in CORE.values():
        assert hashlib.sha256((cache / pin.file).read_bytes()).hexdigest() == pin.sha256
    assert {entry[0].path for entry in httpserver.log} == {f"/mirror/{pin.file}" for pin in CORE.values()}
    # The cache tier then serves a lookup that does not see the package tier... verify reports it.
    out = json.loads(hvw(full_venv, tmp_path, "verify", "--json", **env).stdout)["checks"]
    assert sum(1 for c in out if c["tier"] == "cache" and c["status"] == "ok") == 2


@pytest.mark.integration
def test_wheel_fetch_deadline_credentials_and_bad_settings(
    full_venv: Path, tmp_path: Path, raw_server: Callable[[Handler], RawServer]
) -> None:
    """The installed command: a mirror with credentials that trickles the right bytes is cut off at
    the deadline, shown without its password, nothing left in the cache; bad settings get one line."""
    data = (site_data(full_venv) / "o200k_base.tiktoken").read_bytes()
    slow = raw_server(trickle(data, head=1 << 16, step=64, pause=0.05))
    cache = tmp_path / "hv-cache"
    env = dict(HARMONY_VOCAB_BASE_URL=f"http://ops:s3cret@127.0.0.1:{slow.port}/m/", HARMONY_VOCAB_CACHE_DIR=str(cache))
    proc = hvw(full_venv, tmp_path, "fetch", "--name", "o200k_base", code=1, HARMONY_VOCAB_DOWNLOAD_DEADLINE="1", **env)
    assert f"[download] http://***@127.0.0.1:{slow.port}/m/o200k_base.tiktoken: stopped after " in proc.stderr
    assert "the download deadline of 1s (HARMONY_VOCAB_DOWNLOAD_DEADLINE) had passed" in proc.stderr
    assert "s3cret" not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr
    assert not cache.exists() or os.listdir(cache) == []
    assert "s3cret" not in hvw(full_venv, tmp_path, "doctor", "--json", **env).stdout

    proc = hvw(full_venv, tmp_path, "fetch", code=1, HARMONY_VOCAB_DOWNLOAD_DEADLINE="soon", **env)
    assert proc.stderr.startswith("harmony-vocab: error: HARMONY_VOCAB_DOWNLOAD_DEADLINE='soon' is not a number of seconds")
    assert proc.stderr.count("\n") == 1
    proc = hvw(full_venv, tmp_path, "fetch", code=1, HARMONY_VOCAB_BASE_URL="/srv/vocab")
    assert proc.stderr.count("\n") == 1 and "set HARMONY_VOCAB_O200K_BASE, TIKTOKEN_ENCODINGS_BASE" in proc.stderr
    assert "HARMONY_VOCAB_SOURCE_DIR" not in proc.stderr


@pytest.mark.integration
def test_wheel_fetch_without_requests_names_the_extra(wheel_venv: Path, tmp_path: Path) -> None:
    proc = hvw(wheel_venv, tmp_path, "fetch", "--name", "o200k_base", code=1,
               HARMONY_VOCAB_CACHE_DIR=str(tmp_path / "c"), HARMONY_VOCAB_BASE_URL="http://127.0.0.1:9/")
    assert proc.stderr.strip() == ("harmony-vocab: error: downloading vocab files needs the 'requests' package, "
                                   "which is not installed: pip install 'harmony-vocab[download]'")


@pytest.mark.integration
def test_wheel_doctor(full_venv: Path, tmp_path: Path) -> None:
    text = hvw(full_venv, tmp_path, "doctor").stdout
    assert text.startswith(f"harmony-vocab {harmony_vocab.__version__} at ")
    assert "openai-harmony 0.0.8" in text and "ok: every installed tool loads every installed vocab offline" in text
    assert "tiktoken start-up hook: active" in text
    report = json.loads(hvw(full_venv, tmp_path, "doctor", "--json").stdout)
    data = site_data(full_venv)
    assert report["harmony_vocab"]["location"] == str(data.parent)
    assert report["packages"]["openai-harmony"] == "0.0.8" and report["packages"]["tiktoken"]
    assert (report["tiktoken_encodings_base"], report["registered_tier"]) == (str(data), "package")
    assert report["tiktoken_hook"]["active"] is True
    for name in CORE:
        vocab = report["vocabs"][name]
        assert (vocab["ok"], vocab["tier"]) == (True, "package")
        assert vocab["openai_harmony"]["status"] == ("offline" if name == "o200k_base" else "not used")
        assert vocab["tiktoken"]["status"] == "offline"
    # Registration switched off: openai-harmony and tiktoken would download (exit 1); harmony-vocab
    # itself still finds its files.
    report = json.loads(hvw(full_venv, tmp_path, "doctor", "--json", code=1, HARMONY_VOCAB_AUTOREGISTER="0").stdout)
    assert (report["tiktoken_encodings_base"], report["registered_tier"]) == (None, None)
    assert report["vocabs"]["o200k_base"]["openai_harmony"]["status"] == "network"
    assert report["vocabs"]["o200k_base"]["ok"] is True
