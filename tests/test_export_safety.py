"""Issue 10 items 11, 12 and 16 (export): concurrent exports keep every SHA256SUMS entry, a full
disk changes nothing and names the path, a symlink out of the destination is not "unchanged".
On the installed wheel, each command in a subprocess with a time-out."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from harmony_vocab.pins import PINS, VOCABS
from support import SHARED_VOCAB, clean_env

TIMEOUT = 120
RUNS = 20


def hv(venv: Path, home: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "harmony-vocab"), *argv], env=clean_env(home, **env),
                          capture_output=True, text=True, timeout=TIMEOUT)


def start(venv: Path, home: Path, *argv: str) -> subprocess.Popen:
    return subprocess.Popen([str(venv / "bin" / "harmony-vocab"), *argv], env=clean_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> None:
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def sums(directory: Path) -> Dict[str, str]:
    lines = (directory / "SHA256SUMS").read_text().splitlines()
    return {line.split("  ")[1]: line.split("  ")[0] for line in lines}


def verified(directory: Path) -> None:
    """`sha256sum -c` (an independent checker) accepts the directory's SHA256SUMS."""
    check = subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=directory,
                           capture_output=True, text=True, timeout=TIMEOUT)
    assert check.returncode == 0, check.stdout + check.stderr


def leftovers(directory: Path) -> List[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


# ------------------------------------------------------------------ item 11: concurrency

@pytest.mark.integration
@pytest.mark.slow  # many runs of real processes: once, on the default interpreter
def test_concurrent_exports_and_seed_cache_keep_every_entry(wheel_venv: Path, tmp_path: Path) -> None:
    """Real processes started together, many times: one export per vocab and a seed-cache into
    the same directory. Every run ends with every entry in SHA256SUMS, verified."""
    for run in range(RUNS):
        dest = tmp_path / f"run{run}"
        procs = [start(wheel_venv, tmp_path, "export", str(dest), "--name", name) for name in VOCABS]
        procs.append(start(wheel_venv, tmp_path, "seed-cache", "--tiktoken", str(dest)))
        for proc in procs:
            finish(proc)
        assert sums(dest) == {PINS[n].file: PINS[n].sha256 for n in VOCABS}, f"run {run}"
        verified(dest)
        assert leftovers(dest) == []


class DirLock:
    """This test holding a directory's lock, as another export would."""

    def __init__(self, directory: Path) -> None:
        self.fd = os.open(directory, os.O_RDONLY)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def blocked_on_flock(pid: int) -> bool:
    """True when /proc/locks shows `pid` waiting ("->") for a FLOCK."""
    with open("/proc/locks") as f:
        return any("->" in line and "FLOCK" in line and f" {pid} " in line for line in f)


@pytest.mark.integration
def test_export_waits_for_the_directory_lock_and_keeps_what_the_other_writer_added(
        wheel_venv: Path, tmp_path: Path) -> None:
    """While another writer holds the directory, export waits (seen in /proc/locks), then merges
    with the SHA256SUMS that writer left: read, merged and written under the lock."""
    dest = tmp_path / "dest"
    dest.mkdir()
    lock = DirLock(dest)
    try:
        proc = start(wheel_venv, tmp_path, "export", str(dest), "--name", "o200k_base")
        for _ in range(1200):  # until the export is seen waiting (or has ended, which fails below)
            if blocked_on_flock(proc.pid) or proc.poll() is not None:
                break
            subprocess.run(["sleep", "0.05"])
        assert blocked_on_flock(proc.pid), "export did not wait for the directory lock"
        assert list(dest.iterdir()) == []
        other = "0" * 64
        (dest / "SHA256SUMS").write_text(f"{other}  other.bin\n")  # the other writer's entry
    finally:
        lock.release()
    finish(proc)
    assert sums(dest) == {"other.bin": other, PINS["o200k_base"].file: PINS["o200k_base"].sha256}


# ------------------------------------------------------------------ item 12: full disk

@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 4 MiB tmpfs: room for o200k_base (3.6 MB) but not also cl100k_base (1.7 MB)."""
    mount = Path(tempfile.mkdtemp(prefix="hv-small-disk-"))
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        os.rmdir(mount)
        pytest.skip(f"cannot mount a tmpfs (needs root): {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)
        os.rmdir(mount)


@pytest.mark.integration
def test_export_onto_a_full_disk_changes_nothing_and_names_the_path(
        wheel_venv: Path, tmp_path: Path, small_disk: Path) -> None:
    first, second = (PINS[n] for n in VOCABS)
    assert first.size + second.size > 4 << 20 > first.size  # the premise: one fits, both do not
    dest = small_disk / "models"
    proc = hv(wheel_venv, tmp_path, "export", str(dest))
    assert proc.returncode == 1 and proc.stdout == ""
    needed = first.size + second.size + len(f"{first.sha256}  {first.file}\n{second.sha256}  {second.file}\n")
    assert proc.stderr.splitlines() == [
        f"harmony-vocab: error: cannot write {dest / second.file}: No space left on device; nothing was "
        f"changed in {dest} (the export needs {needed} bytes there)"]
    assert list(dest.iterdir()) == []  # no vocab without its entry, no part file
    # An earlier export's files are left as they were.
    proc = hv(wheel_venv, tmp_path, "export", str(dest), "--name", second.name)
    assert proc.returncode == 0, proc.stderr
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    proc = hv(wheel_venv, tmp_path, "export", str(dest), "--name", first.name)
    assert proc.returncode == 1 and f"cannot write {dest / first.file}: No space left on device" in proc.stderr
    assert {p.name: p.read_bytes() for p in dest.iterdir()} == before
    verified(dest)


# ------------------------------------------------------------------ item 16: symlinks, files in the way

@pytest.mark.integration
def test_a_symlink_out_of_the_destination_is_not_unchanged(wheel_venv: Path, tmp_path: Path) -> None:
    """A symlink to a verified file outside DEST would not travel with a copy of DEST: refused,
    saying why; --force replaces the link with a real file. A symlink inside DEST is kept."""
    pin = PINS["o200k_base"]
    dest = tmp_path / "dest"
    dest.mkdir()
    link = dest / pin.file
    link.symlink_to(SHARED_VOCAB / pin.file)
    proc = hv(wheel_venv, tmp_path, "export", str(dest), "--name", pin.name)
    assert proc.returncode == 1
    real = (SHARED_VOCAB / pin.file).resolve()
    assert proc.stderr.splitlines() == [
        f"harmony-vocab: error: refusing to replace 1 file(s) that are not a real copy of the pinned vocab: "
        f"{link} (a symlink to {real}, outside {dest}: a copy of {dest} would not carry the file, so --force "
        f"replaces the link with a real file). Pass --force (force=True) to replace them, or choose an "
        f"empty destination"]
    assert link.is_symlink() and not (dest / "SHA256SUMS").exists()
    proc = hv(wheel_venv, tmp_path, "export", str(dest), "--name", pin.name, "--force")
    assert proc.returncode == 0 and proc.stdout.splitlines()[0] == f"written   {link}"
    assert not link.is_symlink() and (SHARED_VOCAB / pin.file).is_file()
    verified(dest)

    inside = tmp_path / "inside"
    (inside / "blobs").mkdir(parents=True)
    (inside / "blobs" / "v").write_bytes((SHARED_VOCAB / pin.file).read_bytes())
    (inside / pin.file).symlink_to(Path("blobs") / "v")
    proc = hv(wheel_venv, tmp_path, "export", str(inside), "--name", pin.name)
    assert proc.returncode == 0 and proc.stdout.splitlines()[0] == f"unchanged {inside / pin.file}"
    assert (inside / pin.file).is_symlink()


@pytest.mark.integration
def test_a_destination_that_is_a_file(wheel_venv: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.write_text("not a directory")
    for target, culprit in ((dest, dest), (dest / "sub", dest)):
        proc = hv(wheel_venv, tmp_path, "export", str(target))
        assert proc.returncode == 1 and proc.stdout == ""
        where = "" if culprit == target else f"{culprit}: "
        assert proc.stderr.splitlines() == [
            f"harmony-vocab: error: cannot export into {target}: {where}is a file, not a directory: "
            f"remove it, or choose another directory"]
    assert dest.read_text() == "not a directory"


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("flock, /proc/locks and tmpfs as on Linux")
