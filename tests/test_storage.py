"""The one atomic writer (`storage.atomic_file`): what a termination leaves behind, and the sweep
of part files whose writer is gone. Real processes are killed mid-download from a slow server on
127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import pytest

from harmony_vocab import storage
from harmony_vocab.pins import PINS
from support import PYTHON, SHARED_VOCAB, Handler, RawServer, clean_env, run, trickle

HOST = storage._host()


def parts(directory: Path) -> List[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def test_the_sweep_removes_only_parts_whose_writer_is_gone(tmp_path: Path) -> None:
    keep = {
        f".a.tiktoken.{HOST}.{os.getpid()}.abcd_123.part": "a live writer on this host",
        ".a.tiktoken.otherhost.1.abcd_123.part": "another host's writer, recently written",
        ".a.tiktoken.abcd_123.part": "an older version's part, recently written",
        "notes.part": "not one of ours by name",
        "o200k_base.tiktoken": "a finished file",
    }
    gone = {
        f".a.tiktoken.{HOST}.{dead_pid()}.abcd_123.part": "its writer has ended",
        f".b.tiktoken.{HOST}.{os.getpid()}.zz99zz99.part": "silent for two hours",
        ".c.tiktoken.otherhost.1.abcd_123.part": "another host's, silent for two hours",
        ".a.tiktoken.k2j4h6g8.part": "an older version's, silent for two hours",
    }
    for name in [*keep, *gone]:
        (tmp_path / name).write_bytes(b"partial")
    for name in list(gone)[1:]:
        age(tmp_path / name, 7200)
    target = tmp_path / "outside.txt"
    target.write_text("")
    link = tmp_path / f".d.tiktoken.{HOST}.{dead_pid()}.abcd_123.part"
    link.symlink_to(target)  # a link is never ours to remove
    age(link, 7200)

    storage.write_atomic(tmp_path / "new.tiktoken", b"data")

    left = set(os.listdir(tmp_path))
    assert left == {*keep, link.name, "outside.txt", "new.tiktoken"}, left
    assert target.exists()


def test_the_sigterm_handler_is_ours_only_during_a_write_in_the_main_thread(tmp_path: Path) -> None:
    seen: List[Any] = []

    def write(name: str) -> None:
        with storage.atomic_file(tmp_path / name) as out:
            seen.append(signal.getsignal(signal.SIGTERM))
            out.write(b"x")

    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    write("a")
    assert seen[-1] is not signal.SIG_DFL and callable(seen[-1])
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, "the default handler is restored"

    def own(signum: int, frame: Any) -> None:
        pass

    previous = signal.signal(signal.SIGTERM, own)
    try:
        write("b")
        assert seen[-1] is own and signal.getsignal(signal.SIGTERM) is own, "an application's handler is left alone"
    finally:
        signal.signal(signal.SIGTERM, previous)

    worker = threading.Thread(target=write, args=("c",))  # signal.signal would raise there
    worker.start()
    worker.join()
    assert seen[-1] is signal.SIG_DFL and (tmp_path / "c").read_bytes() == b"x"
    assert sorted(os.listdir(tmp_path)) == ["a", "b", "c"]


# ---------------------------------------------------------------- real processes, killed mid-download

@pytest.fixture
def o200k() -> bytes:
    if not SHARED_VOCAB.is_dir():
        pytest.skip(f"no local vocab mirror at {SHARED_VOCAB}")
    return (SHARED_VOCAB / "o200k_base.tiktoken").read_bytes()


def fetch_env(home: Path, cache: Path, server: RawServer) -> Dict[str, str]:
    return clean_env(home, HARMONY_VOCAB_BASE_URL=server.url("/"), HARMONY_VOCAB_CACHE_DIR=str(cache))


def killed_mid_download(sig: int, o200k: bytes, raw_server: Callable[[Handler], RawServer],
                        home: Path) -> Tuple["subprocess.Popen[str]", Path, str, str]:
    """Start `harmony-vocab fetch o200k_base` from a server trickling the right bytes, wait until
    the body is being written to a part file in the cache, send `sig`; return the ended process,
    its cache, stdout and stderr."""
    cache = home / "cache"
    server = raw_server(trickle(o200k, head=1 << 18, step=64, pause=0.05))
    proc = subprocess.Popen([PYTHON, "-m", "harmony_vocab", "fetch", "o200k_base"], env=fetch_env(home, cache, server),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(600):
        found = [p for p in cache.glob(".o200k_base.tiktoken.*.part") if p.stat().st_size > 0] if cache.is_dir() else []
        if found:
            break
        assert proc.poll() is None, f"fetch ended early: {proc.communicate()}"
        time.sleep(0.05)
    else:
        raise AssertionError("the download never started")
    assert found[0].name.startswith(f".o200k_base.tiktoken.{HOST}.{proc.pid}."), "the part names its writer"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return proc, cache, out, err


def test_sigterm_mid_download_leaves_nothing_and_ends_the_process_by_sigterm(
    o200k: bytes, raw_server: Callable[[Handler], RawServer], tmp_path: Path
) -> None:
    proc, cache, out, err = killed_mid_download(signal.SIGTERM, o200k, raw_server, tmp_path)
    assert proc.returncode == -signal.SIGTERM, (proc.returncode, err)
    assert os.listdir(cache) == [], "a part file was left behind"
    assert out == "" and "Traceback" not in err


def test_a_part_left_by_sigkill_is_swept_by_the_next_download(
    o200k: bytes, raw_server: Callable[[Handler], RawServer], tmp_path: Path
) -> None:
    proc, cache, _, _ = killed_mid_download(signal.SIGKILL, o200k, raw_server, tmp_path)
    assert proc.returncode == -signal.SIGKILL
    assert len(parts(cache)) == 1, "SIGKILL cannot be caught: the part stays"

    fast = raw_server(trickle(o200k, head=len(o200k)))
    done = run([PYTHON, "-m", "harmony_vocab", "fetch", "o200k_base"], env=fetch_env(tmp_path, cache, fast))

    assert done.stdout == f"{cache / 'o200k_base.tiktoken'}\n"
    assert os.listdir(cache) == ["o200k_base.tiktoken"], "the stale part was not swept"
    assert (cache / "o200k_base.tiktoken").stat().st_size == PINS["o200k_base"].size


def test_a_group_is_written_all_or_nothing(tmp_path: Path) -> None:
    """`atomic_files`: no target changes until every file is written; an error in any leaves every
    target as it was and no part file."""
    (tmp_path / "a").write_bytes(b"old a")
    with pytest.raises(OSError, match="disk full"):
        with storage.atomic_files() as stage:
            with stage.file(tmp_path / "a") as out:
                out.write(b"new a")
            assert (tmp_path / "a").read_bytes() == b"old a"  # staged, not yet in place
            with stage.file(tmp_path / "b") as out:
                raise OSError(28, "disk full")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"] and (tmp_path / "a").read_bytes() == b"old a"
    with storage.atomic_files() as stage:
        for name in ("a", "b"):
            with stage.file(tmp_path / name) as out:
                out.write(b"new " + name.encode())
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {"a": b"new a", "b": b"new b"}


def test_a_verified_copy_refuses_bytes_that_are_not_the_pin(tmp_path: Path) -> None:
    from harmony_vocab.errors import VocabIntegrityError

    pin = PINS["cl100k_base"]
    source = tmp_path / "source"
    source.write_bytes((SHARED_VOCAB / pin.file).read_bytes()[:-1] + b"\r")
    target = tmp_path / "out" / pin.file
    with pytest.raises(VocabIntegrityError, match="sha256 mismatch"):
        storage.copy_atomic(source, target, pin)
    assert list(target.parent.iterdir()) == []
    storage.copy_atomic(SHARED_VOCAB / pin.file, target, pin)
    assert target.read_bytes() == (SHARED_VOCAB / pin.file).read_bytes()
