"""Running things for the benchmark: commands, clean environments, no network, the work folder."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

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
