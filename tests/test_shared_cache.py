"""Issue 10 item 14 and issue 8 item 3: `seed-cache` on a machine shared by two real users (made
with useradd, run with setpriv) in a sticky shared TMPDIR, the first with umask 077. It never
writes through a symlink or into another user's directory there, and says in one line which
per-user variable fixes it; item 16: a cache "directory" that is a file says so.

The wheel is installed into a venv of the system Python, in a folder both users can read (the
test's own interpreter may live in root's home)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator

import pytest

from harmony_vocab.pins import PINS
from support import SHARED_VOCAB, STEERING_PREFIXES

TIMEOUT = 120
USERS = ("hv-first", "hv-second")
CORE = [name for name, pin in PINS.items() if pin.wheel == "core"]  # what the core wheel ships
SYSTEM_PYTHON = "/usr/bin/python3"


@dataclass
class Machine:
    base: Path
    venv: Path
    shared: Path  # a sticky, world-writable TMPDIR, as /tmp

    def home(self, user: str) -> Path:
        return self.base / "home" / user

    def run(self, user: str, *argv: str, umask: str = "022", **env: str) -> subprocess.CompletedProcess:
        """`harmony-vocab ARGV` as `user`, with a fresh HOME of theirs and TMPDIR the shared one."""
        environ = {k: v for k, v in os.environ.items() if not k.startswith(STEERING_PREFIXES)}
        environ.update(HOME=str(self.home(user)), TMPDIR=str(self.shared), USER=user, **env)
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups",
               "sh", "-c", f'umask {umask} && exec "$@"', "sh", str(self.venv / "bin" / "harmony-vocab"), *argv]
        return subprocess.run(cmd, env=environ, capture_output=True, text=True, timeout=TIMEOUT)

    def as_user(self, user: str, *cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd],
                              capture_output=True, text=True, timeout=TIMEOUT)


def owner(user: str) -> str:
    return f"{user} (uid {pwd.getpwnam(user).pw_uid})"


@pytest.fixture(scope="module")
def machine(dist: Dict[str, Path]) -> Iterator[Machine]:
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("setpriv"):
        pytest.skip("needs root, useradd and setpriv to act as two users")
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"no {SYSTEM_PYTHON} that other users can run")
    made = []
    for user in USERS:
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user],
                           check=True, capture_output=True, timeout=TIMEOUT)
            made.append(user)
    base = Path(tempfile.mkdtemp(prefix="hv-machine-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        venv = base / "venv"
        subprocess.run([SYSTEM_PYTHON, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=TIMEOUT)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", str(dist["wheel"])],
                       check=True, capture_output=True, timeout=TIMEOUT)
        shared = base / "shared"
        shared.mkdir()
        os.chmod(shared, 0o1777)
        for user in USERS:
            home = base / "home" / user
            home.mkdir(parents=True)
            os.chown(home, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
            os.chmod(home, 0o700)
        os.chmod(base / "home", 0o755)
        yield Machine(base, venv, shared)
    finally:
        shutil.rmtree(base, ignore_errors=True)
        for user in made:
            subprocess.run(["userdel", user], capture_output=True, timeout=TIMEOUT)


def advice(var: str, reader: str) -> str:
    return (f"give {reader} a cache of your own: set {var} to a directory of yours ({reader} reads it from "
            f"there too), then run harmony-vocab seed-cache again")


def seeded(directory: Path) -> bool:
    return all((directory / PINS[n].cache_key).read_bytes() == (SHARED_VOCAB / PINS[n].file).read_bytes()
               for n in CORE)


@pytest.mark.integration
@pytest.mark.slow  # the system Python's venv: the same on every interpreter of the matrix
def test_second_user_after_a_first_with_umask_077(machine: Machine) -> None:
    first, second = USERS
    proc = machine.run(first, "seed-cache", umask="077")
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    gym, rs = machine.shared / "data-gym-cache", machine.shared / "tiktoken-rs-cache"
    assert gym.stat().st_mode & 0o777 == 0o700 and seeded(gym)

    proc = machine.run(second, "seed-cache")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"harmony-vocab: error: {directory} belongs to {owner(first)} and you are {owner(second)}: in the "
        f"shared directory {machine.shared} only a directory of your own is written into; "
        f"{advice(var, reader)}"
        for directory, var, reader in ((gym, "TIKTOKEN_CACHE_DIR", "tiktoken"),
                                       (rs, "TIKTOKEN_RS_CACHE_DIR", "openai-harmony"))]

    # The advice, followed, works.
    mine = machine.home(second) / ".cache" / "harmony-vocab"
    proc = machine.run(second, "seed-cache", TIKTOKEN_CACHE_DIR=str(mine / "data-gym-cache"),
                       TIKTOKEN_RS_CACHE_DIR=str(mine / "tiktoken-rs-cache"))
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    assert seeded(mine / "data-gym-cache") and seeded(mine / "tiktoken-rs-cache")


@pytest.mark.integration
@pytest.mark.slow  # the system Python's venv: the same on every interpreter of the matrix
def test_a_symlink_planted_by_another_user_is_not_followed(machine: Machine) -> None:
    first, second = USERS
    shared = machine.base / "shared2"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    victim = machine.home(second) / "victim"
    assert machine.as_user(second, "mkdir", str(victim)).returncode == 0
    assert machine.as_user(first, "ln", "-s", str(victim), str(shared / "data-gym-cache")).returncode == 0

    proc = machine.run(second, "seed-cache", "--tiktoken", str(shared / "data-gym-cache"))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"harmony-vocab: error: {shared / 'data-gym-cache'}: is a symlink: not followed; "
        f"{advice('TIKTOKEN_CACHE_DIR', 'tiktoken')}"]
    assert list(victim.iterdir()) == []
    # The control: the link leads where the second user can write, so following it would have.
    proc = machine.run(second, "seed-cache", "--tiktoken", str(victim))
    assert proc.returncode == 0 and seeded(victim)


@pytest.mark.integration
def test_a_cache_directory_that_is_a_file(wheel_venv: Path, tmp_path: Path) -> None:
    from support import clean_env

    not_a_dir = tmp_path / "gym"
    not_a_dir.write_text("x")
    proc = subprocess.run([str(wheel_venv / "bin" / "harmony-vocab"), "seed-cache", "--tiktoken", str(not_a_dir)],
                          env=clean_env(tmp_path), capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"harmony-vocab: error: {not_a_dir}: is a file, not a directory: remove it, or choose another directory; "
        f"{advice('TIKTOKEN_CACHE_DIR', 'tiktoken')}"]
    assert not_a_dir.read_text() == "x"


@pytest.mark.integration
def test_our_cache_directory_that_is_a_file(full_venv: Path, tmp_path: Path) -> None:
    """`fetch` (with requests installed) into HARMONY_VOCAB_CACHE_DIR that is a file, or under one:
    one line naming the file in the way, offline, before any connection."""
    from support import clean_env, offline

    not_a_dir = tmp_path / "cache"
    not_a_dir.write_text("x")
    for setting in (not_a_dir, not_a_dir / "sub"):
        env = clean_env(tmp_path, HARMONY_VOCAB_CACHE_DIR=str(setting), HARMONY_VOCAB_BASE_URL="http://127.0.0.1:9/")
        proc = subprocess.run(offline([full_venv / "bin" / "harmony-vocab", "fetch", "--name", "o200k_base"]),
                              env=env, capture_output=True, text=True, timeout=TIMEOUT)
        assert proc.returncode == 1 and proc.stdout == ""
        assert proc.stderr.splitlines() == [f"harmony-vocab: error: {not_a_dir}: is a file, not a directory: "
                                            f"remove it, or choose another directory"]
    assert not_a_dir.read_text() == "x"


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("users, setpriv and sticky directories as on Linux")
