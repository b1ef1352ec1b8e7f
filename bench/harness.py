"""Running things for the benchmark: commands, clean environments, no network, the work folder."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PROBES = BENCH / "probes"

# Variables that steer harmony-vocab, openai-harmony, tiktoken, Hugging Face or Python itself:
# never inherited by a measured process.
STEERING_PREFIXES = ("HARMONY_VOCAB_", "TIKTOKEN_", "DATA_GYM_", "HF_", "XDG_CACHE_HOME", "PYTHON",
                     "VIRTUAL_ENV", "SETUPTOOLS_USE_DISTUTILS")


class SetupError(Exception):
    """The benchmark cannot set itself up (no vocab mirror, a wheel that does not build...)."""


class VenvError(SetupError):
    """A venv's packages cannot be installed (no package index reachable?)."""


def default_work_dir(environ: Optional[Mapping[str, str]] = None) -> Path:
    """Where venvs, wheels and scratch go, outside the checkout: ``$XDG_CACHE_HOME/harmony-vocab-bench``,
    else ``~/.cache/harmony-vocab-bench``."""
    environ = os.environ if environ is None else environ
    xdg = environ.get("XDG_CACHE_HOME")
    home = environ.get("HOME")
    base = Path(xdg) if xdg else (Path(home) if home else Path.home()) / ".cache"
    return base.expanduser() / "harmony-vocab-bench"


@contextlib.contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock` (POSIX): two runs never share a work folder at once."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking
        yield
        return
    with open(lock, "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            log(f"waiting for another run to release {lock}")
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def run(cmd: Sequence[Any], env: Optional[Mapping[str, str]] = None, cwd: Optional[Path] = None,
        timeout: float = 900) -> "subprocess.CompletedProcess[str]":
    """Run a command and capture its text output; raise SetupError with the output if it fails."""
    args = [str(c) for c in cmd]
    proc = subprocess.run(args, env=dict(env) if env is not None else None, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise SetupError(f"command failed ({proc.returncode}): {' '.join(args)}\n"
                         f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}")
    return proc


class Timed(NamedTuple):
    """One child process measured from outside: wall time, and the CPU time (user + system) the
    kernel accounted to it and to the children it waited for."""

    wall: float  # seconds
    cpu: float  # seconds
    stdout: str
    stderr: str


def timed(cmd: Sequence[Any], env: Optional[Mapping[str, str]] = None) -> Timed:
    """Run `cmd` and time it: wall clock around the whole process, CPU time from ``os.wait4``'s
    resource usage (POSIX; elsewhere the wall time stands in). Raise SetupError if it fails.
    Output goes to temporary files, so that a large one never blocks the child."""
    args = [str(c) for c in cmd]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err)
        if hasattr(os, "wait4"):
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t0
            proc.returncode = os.waitstatus_to_exitcode(status)
            cpu = usage.ru_utime + usage.ru_stime
        else:  # pragma: no cover - not POSIX
            proc.wait()
            wall = cpu = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SetupError(f"command failed ({proc.returncode}): {' '.join(args)}\n"
                         f"--- stdout ---\n{stdout[-4000:]}\n--- stderr ---\n{stderr[-4000:]}")
    return Timed(wall, cpu, stdout, stderr)


def probe(name: str) -> Path:
    """The path of a child script in bench/probes/ (run by the venvs' interpreters)."""
    path = PROBES / name
    if not path.is_file():
        raise SetupError(f"no probe script {path}")
    return path


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def url_cache_name(url: str) -> str:
    """The name tiktoken and openai-harmony give a download in their caches."""
    return hashlib.sha1(url.encode()).hexdigest()


def network_isolation() -> List[str]:
    """A command prefix that runs a command with no network (a new network namespace with only
    loopback up), or [] where that is not possible (not root, no ``unshare``)."""
    if os.name != "posix" or not shutil.which("unshare") or not shutil.which("ip"):
        return []
    prefix = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
    try:
        ok = subprocess.run(prefix + ["true"], capture_output=True, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return prefix if ok else []


def clean_env(home: Path, **extra: str) -> Dict[str, str]:
    """os.environ without steering variables, HOME and TMPDIR inside `home`, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(STEERING_PREFIXES)}
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), TMPDIR=str(home / "tmp"))
    env.update(extra)
    return env
