"""Issue 17, the second hostile pass: the cases no other test file covers.

Items 1-4 and 6-10, and most weak ones, are tested where their code lives (test_tiktoken_hook.py,
test_cli.py, test_export_safety.py, test_fetch.py, test_files.py, test_startup.py,
test_integration.py, test_doctor.py, test_modeldir.py). What is left here: doctor with a mirror
password holding raw delimiters (item 5), and the weak ones on special or write-only cache
directories, an ASCII stdout, `export --force` over a tagged SHA256SUMS, and verify, env and doctor
agreeing on TIKTOKEN_ENCODINGS_BASE. Only the command line (a subprocess) and the public API are
used, so that these tests hold across a rewrite of the package's internals.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

import harmony_vocab

PY = sys.executable
STEERING = ("HARMONY_VOCAB_", "TIKTOKEN_", "DATA_GYM_", "HF_", "XDG_CACHE_HOME")
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (unshare, a second user)")


# ------------------------------------------------------------------------------------ helpers

def clean_env(tmp: Path, **extra: str) -> Dict[str, str]:
    """os.environ without the steering variables; HOME and TMPDIR fresh under `tmp`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(STEERING)}
    home = tmp / "home"
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), TMPDIR=str(home / "tmp"), NO_PROXY="127.0.0.1,localhost",
               no_proxy="127.0.0.1,localhost")
    env.update(extra)
    return env


def offline(cmd: List[Any]) -> List[str]:
    """`cmd` with no network at all (a new network namespace with only loopback)."""
    return ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *map(str, cmd)]


def run(cmd: List[Any], env: Dict[str, str], cwd: Optional[Path] = None, timeout: float = 120,
        net: bool = True, **kw: object) -> "subprocess.CompletedProcess[str]":
    cmd = [str(c) for c in cmd]
    return subprocess.run(cmd if net else offline(cmd), env=env, cwd=cwd, timeout=timeout,
                          capture_output=True, text=True, errors="replace", **kw)  # type: ignore[call-overload]


def cli(*args: object, env: Dict[str, str], **kw: object) -> "subprocess.CompletedProcess[str]":
    return run([PY, "-m", "harmony_vocab", *map(str, args)], env, **kw)  # type: ignore[arg-type]


def one_line(stderr: str) -> str:
    """The single line of `stderr`, after checking it is one line and no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def free_port() -> int:
    """A 127.0.0.1 port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def other_user() -> pwd.struct_passwd:
    """A second, unprivileged user (created when missing)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as a second user")
    if "hv17other" not in {u.pw_name for u in pwd.getpwall()}:
        subprocess.run(["useradd", "--no-create-home", "-s", "/bin/sh", "hv17other"], check=True)
    return pwd.getpwnam("hv17other")


def as_user(user: pwd.struct_passwd, cmd: List[object]) -> List[object]:
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", *cmd]


@pytest.fixture
def shared_base() -> Iterator[Path]:
    """A 0755 directory under /tmp that every user can reach (pytest's tmp_path is 0700)."""
    base = Path(tempfile.mkdtemp(prefix="hv17-", dir="/tmp"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


# ------------------------------------------------------------------------------- 5. credentials

@pytest.mark.parametrize("char", ["#", "/", "?", " "], ids=["hash", "slash", "query", "space"])
def test_item5_mirror_password_with_a_raw_delimiter_never_printed_by_doctor(tmp_path: Path, char: str) -> None:
    """Item 5: a HARMONY_VOCAB_BASE_URL password holding a raw delimiter never reaches doctor's output
    (text or JSON). test_cli.py checks doctor with a plain password, test_fetch.py fetch with these."""
    url = f"http://alicezq:zqA{char}zqB@127.0.0.1:{free_port()}/"
    env = clean_env(tmp_path, HARMONY_VOCAB_BASE_URL=url, HARMONY_VOCAB_CACHE_DIR=str(tmp_path / "cache"))
    for args in (["doctor"], ["doctor", "--json"]):
        p = cli(*args, env=env)
        assert "Traceback" not in p.stderr, p.stderr
        for secret in ("alicezq", "zqA", "zqB"):
            assert secret not in p.stdout + p.stderr, (args, p.stdout + p.stderr)
    assert json.loads(cli("doctor", "--json", env=env).stdout)["mirror"].startswith("http://***@127.0.0.1:")


# ------------------------------------------------------------------------------- the weak ones

@ROOT_ONLY
@pytest.mark.parametrize("kind", ["devnull", "fifo", "dangling-symlink"])
def test_weak_special_cache_directory_is_not_called_a_file(tmp_path: Path, kind: str) -> None:
    """Weak: /dev/null, a FIFO or a dangling symlink given as a cache directory is named for what it is."""
    path = {"devnull": Path("/dev/null"), "fifo": tmp_path / "fifo", "dangling-symlink": tmp_path / "dangling"}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dangling-symlink":
        path.symlink_to(tmp_path / "nowhere")
    env = clean_env(tmp_path)
    for p in (cli("seed-cache", "--tiktoken", path, env=env),
              cli("fetch", "--name", "o200k_base", env=dict(env, HARMONY_VOCAB_CACHE_DIR=str(path)), net=False)):
        line = one_line(p.stderr)
        assert p.returncode == 1 and path.name in line, p.stderr
        assert not re.search(r"\bis a file\b", line), line


@pytest.mark.slow
@pytest.mark.integration
def test_weak_write_only_directory_is_written(shared_base: Path, other_user: pwd.struct_passwd,
                                              dist: Dict[str, Path]) -> None:
    """Weak: a directory the user can write but not read (0300) is exported and seeded into."""
    # the wheel in a venv of the system Python, which the other user can read (the test's own
    # interpreter may live under /root)
    venv = shared_base / "venv"
    for cmd in (["/usr/bin/python3", "-m", "venv", venv],
                [venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-index", dist["wheel"]]):
        assert run(cmd, dict(os.environ), timeout=300).returncode == 0
    home, dest, cache = shared_base / "home", shared_base / "dest", shared_base / "tk"
    for d in (home, home / "tmp", dest, cache):
        d.mkdir()
        os.chown(d, other_user.pw_uid, other_user.pw_gid)
        d.chmod(0o300 if d in (dest, cache) else 0o755)
    env = clean_env(shared_base, HOME=str(home), TMPDIR=str(home / "tmp"))
    for args, d in ((["export", dest], dest), (["seed-cache", "--tiktoken", cache], cache)):
        p = run(as_user(other_user, [venv / "bin" / "python", "-m", "harmony_vocab", *args]), env, cwd=home)
        assert p.returncode == 0, p.stderr
        assert os.listdir(d), f"nothing written in {d}"


def test_weak_exit_code_matches_what_export_did_on_an_ascii_stdout(tmp_path: Path) -> None:
    """Weak: export to a stdout that cannot encode the path does not finish the export and then exit 1."""
    dest = tmp_path / "d\u00ebst"
    p = cli("export", dest, env=clean_env(tmp_path, PYTHONIOENCODING="ascii"))
    assert "Traceback" not in p.stderr
    written = dest.is_dir() and bool(os.listdir(dest))
    assert (p.returncode == 0) == written, f"exit {p.returncode}, export written: {written}; {p.stderr}"


def test_weak_force_keeps_the_other_entries_of_a_tagged_sha256sums(tmp_path: Path) -> None:
    """Weak: the advised `export --force` over a `sha256sum --tag` SHA256SUMS keeps the other files'
    sums (test_export_safety.py checks the plain export)."""
    dest = tmp_path / "model"
    dest.mkdir()
    (dest / "weights.bin").write_bytes(os.urandom(4096))
    tagged = subprocess.run(["sha256sum", "--tag", "weights.bin"], cwd=dest, capture_output=True, check=True)
    (dest / "SHA256SUMS").write_bytes(tagged.stdout)
    p = cli("export", dest, "--force", env=clean_env(tmp_path))
    assert p.returncode == 0, p.stderr
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=dest, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    for name in ("weights.bin", "o200k_base.tiktoken", "cl100k_base.tiktoken"):
        assert f"{name}: OK" in check.stdout, check.stdout


def test_weak_verify_agrees_with_env_and_doctor_on_tiktoken_encodings_base(tmp_path: Path) -> None:
    """Weak: a TIKTOKEN_ENCODINGS_BASE holding only o200k_base gets one verdict from env, doctor and verify."""
    directory = tmp_path / "only-o200k"
    directory.mkdir()
    shutil.copyfile(harmony_vocab.bundled_path("o200k_base"), directory / "o200k_base.tiktoken")
    env = clean_env(tmp_path, TIKTOKEN_ENCODINGS_BASE=str(directory))
    verdicts = {"env": cli("env", "--dir", directory, env=env).returncode,
                "doctor": cli("doctor", env=env).returncode,
                "verify": cli("verify", env=env).returncode}
    assert len(set(verdicts.values())) == 1, verdicts
