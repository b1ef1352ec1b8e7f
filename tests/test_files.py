"""The one writer (`files.Directory.write_all`): all or nothing, verified copies, and what a
termination leaves behind. Real `harmony-vocab fetch` processes are signalled mid-download from a
server on 127.0.0.1 that trickles the right bytes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest

from harmony_vocab.errors import VocabIntegrityError
from harmony_vocab.files import Directory, copier
from harmony_vocab.pins import PINS
from support import PYTHON, SHARED_VOCAB, Handler, RawServer, clean_env, run, trickle


def parts(directory: Path) -> List[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


def test_a_group_is_written_all_or_nothing(tmp_path: Path) -> None:
    """No target changes until every file is written; an error in any leaves every target as it
    was and no part file."""
    (tmp_path / "a").write_bytes(b"old a")
    seen: List[bytes] = []

    def fail(out: object) -> None:
        seen.append((tmp_path / "a").read_bytes())  # "a" is written by now, not yet in place
        raise OSError(28, "disk full")

    with Directory(tmp_path) as d:
        with pytest.raises(OSError, match="disk full"):
            d.write_all([("a", lambda out: out.write(b"new a")), ("b", fail)])
    assert seen == [b"old a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"] and (tmp_path / "a").read_bytes() == b"old a"
    with Directory(tmp_path) as d:
        d.write_all([(name, lambda out, name=name: out.write(b"new " + name.encode())) for name in ("a", "b")])
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {"a": b"new a", "b": b"new b"}
    assert all((tmp_path / n).stat().st_mode & 0o777 == 0o644 for n in ("a", "b"))


def test_a_verified_copy_refuses_bytes_that_are_not_the_pin(tmp_path: Path) -> None:
    if not SHARED_VOCAB.is_dir():
        pytest.skip(f"no local vocab mirror at {SHARED_VOCAB}")
    f = PINS["cl100k_base"].files[0]
    source = tmp_path / "source"
    source.write_bytes((SHARED_VOCAB / f.name).read_bytes()[:-1] + b"\r")
    out = tmp_path / "out"
    with Directory(out) as d, pytest.raises(VocabIntegrityError, match="sha256 mismatch"):
        d.write_all([(f.name, copier(source, f))])
    assert list(out.iterdir()) == []
    with Directory(out) as d:  # the control: the pinned bytes go through
        d.write_all([(f.name, copier(SHARED_VOCAB / f.name, f))])
    assert (out / f.name).read_bytes() == (SHARED_VOCAB / f.name).read_bytes()


def test_a_symlinked_directory_is_refused_when_not_to_be_followed(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(OSError, match="is a symlink: not followed"):
        Directory(tmp_path / "link", follow=False)
    with Directory(tmp_path / "link") as d:  # the control: followed by default
        d.write_all([("x", lambda out: out.write(b"x"))])
    assert (tmp_path / "real" / "x").read_bytes() == b"x"


# ---------------------------------------------------------------- real processes, signalled mid-download

@pytest.fixture
def o200k() -> bytes:
    if not SHARED_VOCAB.is_dir():
        pytest.skip(f"no local vocab mirror at {SHARED_VOCAB}")
    return (SHARED_VOCAB / "o200k_base.tiktoken").read_bytes()


def fetch_env(home: Path, cache: Path, server: RawServer) -> Dict[str, str]:
    return clean_env(home, HARMONY_VOCAB_BASE_URL=server.url("/"), HARMONY_VOCAB_CACHE_DIR=str(cache),
                     NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")


def default_sigint() -> None:
    """In the child: Ctrl-C as in a terminal (a test run in the background has it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def signalled_mid_download(sig: int, o200k: bytes, raw_server: Callable[[Handler], RawServer],
                           home: Path) -> Tuple["subprocess.Popen[str]", Path, str, str]:
    """Start `harmony-vocab fetch --name o200k_base` from a server trickling the right bytes, wait
    until the body is being written to a part file in the cache, send `sig`; return the ended
    process, its cache, stdout and stderr."""
    cache = home / "cache"
    server = raw_server(trickle(o200k, head=1 << 18, step=64, pause=0.05))
    proc = subprocess.Popen([PYTHON, "-m", "harmony_vocab", "fetch", "--name", "o200k_base"],
                            env=fetch_env(home, cache, server), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=default_sigint)
    for _ in range(600):
        found = [p for p in cache.glob(".o200k_base.tiktoken.*.part") if p.stat().st_size > 0] if cache.is_dir() else []
        if found:
            break
        assert proc.poll() is None, f"fetch ended early: {proc.communicate()}"
        time.sleep(0.05)
    else:
        raise AssertionError("the download never started")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return proc, cache, out, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_mid_download_leaves_nothing(
    o200k: bytes, raw_server: Callable[[Handler], RawServer], tmp_path: Path, sig: signal.Signals
) -> None:
    """A terminal closed (HUP), a service stopped (TERM) or Ctrl-C: the command ends with one line,
    and no part file is left in the cache."""
    proc, cache, out, err = signalled_mid_download(sig, o200k, raw_server, tmp_path)
    assert proc.returncode != 0, err
    assert os.listdir(cache) == [], "a part file was left behind"
    assert out == "" and "Traceback" not in err
    assert err.splitlines()[-1:] == ["harmony-vocab: interrupted"]


def test_after_a_sigkill_the_next_download_succeeds(
    o200k: bytes, raw_server: Callable[[Handler], RawServer], tmp_path: Path
) -> None:
    """SIGKILL cannot be caught: its part stays (no part is swept: only the writer knows it is its
    own). The next download is not disturbed by it."""
    proc, cache, _, _ = signalled_mid_download(signal.SIGKILL, o200k, raw_server, tmp_path)
    assert proc.returncode == -signal.SIGKILL
    (left,) = parts(cache)

    fast = raw_server(trickle(o200k, head=len(o200k)))
    done = run([PYTHON, "-m", "harmony_vocab", "fetch", "--name", "o200k_base"], env=fetch_env(tmp_path, cache, fast))

    assert done.stdout == f"{cache / 'o200k_base.tiktoken'}\n"
    assert sorted(os.listdir(cache)) == sorted([left, "o200k_base.tiktoken"])
    assert (cache / "o200k_base.tiktoken").read_bytes() == o200k
