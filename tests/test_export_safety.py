"""Export's safety: concurrent exports keep every SHA256SUMS entry, a full disk changes nothing
and names the path, a symlink out of the destination is not "unchanged"; issue 17: files that look
like part files are never deleted, a held lock is waited for in the open and given up on, a
signal leaves nothing, DEST/encodings as a symlink out of DEST is refused, a ``sha256sum --tag``
SHA256SUMS is kept in its format. Each command runs in a subprocess with a time-out: on the
installed wheel (integration), or from this checkout (``python -m harmony_vocab``)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
import time
from typing import Dict, Iterator, List

import pytest

from harmony_vocab.pins import PINS
from support import PYTHON, SHARED_VOCAB, clean_env

TIMEOUT = 120
RUNS = 20
CORE = [name for name, pin in PINS.items() if pin.wheel == "core"]  # what the core wheel ships


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
        procs = [start(wheel_venv, tmp_path, "export", str(dest), "--name", name) for name in CORE]
        procs.append(start(wheel_venv, tmp_path, "seed-cache", "--tiktoken", str(dest)))
        for proc in procs:
            finish(proc)
        assert sums(dest) == {PINS[n].file: PINS[n].sha256 for n in CORE}, f"run {run}"
        verified(dest)
        assert leftovers(dest) == []


def hold_lock(directory: Path) -> subprocess.Popen:
    """Another process holding `directory`'s writers' lock (flock on the directory), as another
    export would, until it is killed."""
    code = ("import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "time.sleep(600)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(directory)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def release(holder: subprocess.Popen) -> None:
    holder.kill()
    holder.wait(TIMEOUT)


@pytest.mark.integration
def test_export_waits_for_the_directory_lock_and_keeps_what_the_other_writer_added(
        wheel_venv: Path, tmp_path: Path) -> None:
    """While another writer holds the directory, export says it waits, then merges with the
    SHA256SUMS that writer left: read, merged and written under the lock."""
    dest = tmp_path / "dest"
    dest.mkdir()
    holder = hold_lock(dest)
    try:
        proc = start(wheel_venv, tmp_path, "export", str(dest), "--name", "o200k_base")
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert line.startswith(f"harmony-vocab: waiting for another process writing into {dest} "), line
        assert list(dest.iterdir()) == []
        other = "0" * 64
        (dest / "SHA256SUMS").write_text(f"{other}  other.bin\n")  # the other writer's entry
    finally:
        release(holder)
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
    first, second = (PINS[n] for n in CORE)
    assert first.size + second.size > 4 << 20 > first.size  # the premise: one fits, both do not
    dest = small_disk / "models"
    proc = hv(wheel_venv, tmp_path, "export", str(dest))
    assert proc.returncode == 1 and proc.stdout == ""
    needed = first.size + second.size + len(f"{first.sha256}  {first.file}\n{second.sha256}  {second.file}\n")
    assert proc.stderr.splitlines() == [
        f"harmony-vocab: error: {dest}: cannot be written: No space left on device; nothing was changed "
        f"(the export needs {needed} bytes there)"]
    assert list(dest.iterdir()) == []  # no vocab without its entry, no part file
    # An earlier export's files are left as they were.
    proc = hv(wheel_venv, tmp_path, "export", str(dest), "--name", second.name)
    assert proc.returncode == 0, proc.stderr
    before = {p.name: p.read_bytes() for p in dest.iterdir()}
    proc = hv(wheel_venv, tmp_path, "export", str(dest), "--name", first.name)
    assert proc.returncode == 1 and f"{dest}: cannot be written: No space left on device" in proc.stderr
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
    for target in (dest, dest / "sub"):
        proc = hv(wheel_venv, tmp_path, "export", str(target))
        assert proc.returncode == 1 and proc.stdout == ""
        assert proc.stderr.splitlines() == [
            f"harmony-vocab: error: {dest}: is a file, not a directory: remove it, or choose another directory"]
    assert dest.read_text() == "not a directory"



# ------------------------------------------------------------------ issue 17, from this checkout

def hvc(home: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    """`python -m harmony_vocab ARGV` from this checkout (its packaged copies are the real vocab
    files), in a clean environment."""
    return subprocess.run([PYTHON, "-m", "harmony_vocab", *argv], env=clean_env(home, **env),
                          capture_output=True, text=True, timeout=TIMEOUT)


def start_c(home: Path, *argv: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([PYTHON, "-m", "harmony_vocab", *argv], env=clean_env(home, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


USERS_PARTS = (".notes.draft001.part", ".model.safetensors.resume_1.part", ".o200k_base.tiktoken.abcd1234.part",
               f".o200k_base.tiktoken.{socket.gethostname()[:32]}.999999.abcd1234.part")


def test_export_never_deletes_files_that_look_like_part_files(tmp_path: Path) -> None:
    """A user's own part files, however old and whatever their name (the old sweep's patterns:
    8 characters, or this host and a pid that is not running), are left alone."""
    dest = tmp_path / "dest"
    dest.mkdir()
    for name in USERS_PARTS:
        (dest / name).write_text(f"the user's {name}")
        then = time.time() - 7200
        os.utime(dest / name, (then, then))
    proc = hvc(tmp_path, "export", str(dest), "--name", "o200k_base")
    assert proc.returncode == 0, proc.stderr
    for name in USERS_PARTS:
        assert (dest / name).read_text() == f"the user's {name}"
    assert sums(dest) == {PINS["o200k_base"].file: PINS["o200k_base"].sha256}


@pytest.mark.parametrize("command", ["export", "seed-cache"])
def test_a_held_lock_is_waited_for_in_the_open_then_given_up_with_one_line(tmp_path: Path, command: str) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    argv = ["export", str(dest)] if command == "export" else ["seed-cache", "--tiktoken", str(dest)]
    holder = hold_lock(dest)
    try:
        proc = hvc(tmp_path, *argv, "--name", "o200k_base", HARMONY_VOCAB_LOCK_TIMEOUT="1")
    finally:
        release(holder)
    assert proc.returncode == 1 and proc.stdout == ""
    waiting, error = proc.stderr.splitlines()
    assert waiting == f"harmony-vocab: waiting for another process writing into {dest} (up to 1s)"
    assert error.startswith("harmony-vocab: error: ") and str(dest) in error
    assert "HARMONY_VOCAB_LOCK_TIMEOUT" in error
    assert list(dest.iterdir()) == []
    # the control: with the lock free, the same command goes through at once, saying nothing
    proc = hvc(tmp_path, *argv, "--name", "o200k_base", HARMONY_VOCAB_LOCK_TIMEOUT="1")
    assert (proc.returncode, proc.stderr) == (0, "")


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM], ids=lambda s: s.name)
def test_a_signal_during_export_leaves_nothing(tmp_path: Path, sig: signal.Signals) -> None:
    """Signalled while it waits its turn (a terminal closed, a service stopped): one line, nothing
    written, no part file."""
    dest = tmp_path / "dest"
    dest.mkdir()
    holder = hold_lock(dest)
    try:
        proc = start_c(tmp_path, "export", str(dest))
        assert proc.stderr is not None
        assert proc.stderr.readline().startswith("harmony-vocab: waiting for another process writing into")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        release(holder)
    assert proc.returncode != 0 and out == ""
    assert err.splitlines() == ["harmony-vocab: interrupted"]
    assert list(dest.iterdir()) == []


def test_an_encodings_symlink_out_of_dest_is_refused(tmp_path: Path) -> None:
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / "encodings").symlink_to(outside)
    proc = hvc(tmp_path, "export", str(dest), "--layout", "encodings")
    assert proc.returncode == 1 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith("harmony-vocab: error: ") and str(dest / "encodings") in line and "symlink" in line
    assert list(outside.iterdir()) == [] and sorted(os.listdir(dest)) == ["encodings"]
    # the control: a real directory there is written into
    (dest / "encodings").unlink()
    assert hvc(tmp_path, "export", str(dest), "--layout", "encodings").returncode == 0
    verified(dest / "encodings")


def test_a_tagged_sha256sums_is_read_and_kept_in_its_format(tmp_path: Path) -> None:
    """A SHA256SUMS written by ``sha256sum --tag`` (which ``sha256sum -c`` reads): its entries are
    kept and the new ones added in the same format."""
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "weights.bin").write_bytes(b"model weights")
    subprocess.run("sha256sum --tag weights.bin > SHA256SUMS", shell=True, cwd=dest, check=True)
    before = (dest / "SHA256SUMS").read_text()
    proc = hvc(tmp_path, "export", str(dest))
    assert proc.returncode == 0, proc.stderr
    lines = (dest / "SHA256SUMS").read_text().splitlines()
    assert before.strip() in lines
    assert sorted(lines) == sorted([before.strip()] + [f"SHA256 ({PINS[n].file}) = {PINS[n].sha256}" for n in CORE
                                                        if (dest / PINS[n].file).exists()])
    assert len(lines) == 3
    verified(dest)


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("flock, /proc/locks and tmpfs as on Linux")


def test_export_hashes_what_it_copies_even_from_a_file_verified_in_this_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file changed through a shared mapping keeps its (size, mtime, ctime, inode) key until the
    kernel writes it back, so the lookup's per-process record of verified files cannot tell; a copy
    carries the bytes where nothing checks them again, so export hashes them as it copies."""
    import mmap

    from harmony_vocab import resolve
    from harmony_vocab.export import export
    from harmony_vocab.errors import VocabIntegrityError
    from harmony_vocab.files import read_verified

    pin = PINS["cl100k_base"]
    source = tmp_path / "mine" / pin.file
    source.parent.mkdir()
    source.write_bytes((SHARED_VOCAB / pin.file).read_bytes())
    with open(source, "r+b") as handle, mmap.mmap(handle.fileno(), 0) as mapped:
        mapped[0:1] = mapped[0:1]  # the page is dirty now: later writes through it keep the timestamps
        time.sleep(0.05)
        monkeypatch.setenv("HARMONY_VOCAB_CL100K_BASE", str(source))
        assert resolve("cl100k_base").tier == "environment"  # hashed: verified, and remembered
        before = os.stat(source)
        mapped[0:4] = b"EVIL"
        after = os.stat(source)
        # the control: the key is unchanged, so the per-process record alone would pass these bytes
        assert (before.st_mtime_ns, before.st_ctime_ns, before.st_size) == (
            after.st_mtime_ns, after.st_ctime_ns, after.st_size)
        assert read_verified(source, pin.files[0])[:4] == b"EVIL"
        with pytest.raises(VocabIntegrityError, match="sha256 mismatch"):
            export(tmp_path / "out", ["cl100k_base"])
    assert not (tmp_path / "out" / pin.file).exists() and not (tmp_path / "out" / "SHA256SUMS").exists()
