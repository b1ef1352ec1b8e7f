"""The start-up registration (_harmony_vocab_lookup, run by harmony_vocab.pth), in-process: which
directory it selects, when it leaves TIKTOKEN_ENCODINGS_BASE alone, what its cheap check catches,
and that it never raises. tests/test_integration.py runs it for real at interpreter start."""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from pathlib import Path

import pytest

import _harmony_vocab_paths as paths
import _harmony_vocab_lookup as lookup
import _harmony_vocab_startup as startup
from support import SHARED_VOCAB

PIN = lookup.PINS["o200k_base"]
FILE = PIN["file"]

pytestmark = pytest.mark.skipif(not SHARED_VOCAB.is_dir(), reason=f"no local vocab mirror at {SHARED_VOCAB}")


def vocab_in(directory: Path) -> Path:
    """`directory` holding a real o200k_base.tiktoken."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHARED_VOCAB / FILE, directory / FILE)
    return directory


def damage(path: Path, offset: int) -> None:
    """Change one byte of `path` in place, keeping its size."""
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x01]))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the module whose "site-packages" holds harmony_vocab/data; sys.meta_path
    restored afterwards."""
    module = importlib.reload(startup)
    monkeypatch.setattr(module, "_HERE", str(tmp_path / "site"))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    return vocab_in(tmp_path / "site" / "harmony_vocab" / "data")


def test_registers_the_package_data_and_installs_the_tiktoken_finder(site: Path) -> None:
    startup.run()
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(site)
    assert os.environ["HARMONY_VOCAB_REGISTERED"] == f"package:{site}"
    assert sum(isinstance(f, startup.TiktokenFinder) for f in sys.meta_path) == 1


def test_order_env_file_then_model_dir_then_package(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "model"
    vocab_in(model / "original")
    vocab_in(model / "tokenizer")
    monkeypatch.setenv("HARMONY_VOCAB_MODEL_DIR", str(model))
    assert startup.selection(os.environ) == ("model", str(model / "tokenizer"))
    env_dir = vocab_in(tmp_path / "env")
    monkeypatch.setenv("HARMONY_VOCAB_O200K_BASE", str(env_dir / FILE))
    assert startup.selection(os.environ) == ("environment", str(env_dir))
    # A damaged or renamed file is passed over (resolve() reports it later).
    damage(env_dir / FILE, startup.sample_offsets(PIN["size"])[3] + 5)
    monkeypatch.setenv("HARMONY_VOCAB_MODEL_DIR", str(tmp_path / "nowhere"))
    assert startup.selection(os.environ) == ("package", str(site))


def test_a_same_size_file_with_other_bytes_is_not_registered(site: Path, tmp_path: Path) -> None:
    """Issue 10 item 7: a size check alone registered this; openai-harmony then failed."""
    for offset in startup.sample_offsets(PIN["size"]):
        damage(site / FILE, offset + 3)
        assert not startup.looks_pinned(str(site / FILE), PIN)
        shutil.copy(SHARED_VOCAB / FILE, site / FILE)
    assert startup.looks_pinned(str(site / FILE), PIN)
    other = tmp_path / "other" / FILE
    other.parent.mkdir()
    with open(other, "wb") as f:  # right size, other bytes
        f.write((SHARED_VOCAB / "cl100k_base.tiktoken").read_bytes()[: PIN["size"]].ljust(PIN["size"], b"\n"))
    assert not startup.looks_pinned(str(other), PIN)
    damage(site / FILE, 0)
    startup.run()
    assert "TIKTOKEN_ENCODINGS_BASE" not in os.environ


def test_fifos_and_devices_are_refused_without_blocking(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fifo_dir = tmp_path / "fifo"
    fifo_dir.mkdir()
    os.mkfifo(fifo_dir / FILE)
    assert not startup.looks_pinned(str(fifo_dir / FILE), PIN)
    dev_dir = tmp_path / "dev"
    dev_dir.mkdir()
    os.symlink("/dev/zero", dev_dir / FILE)
    assert not startup.looks_pinned(str(dev_dir / FILE), PIN)
    monkeypatch.setenv("HARMONY_VOCAB_O200K_BASE", str(fifo_dir / FILE))
    monkeypatch.setenv("HARMONY_VOCAB_MODEL_DIR", str(dev_dir))
    assert startup.selection(os.environ) == ("package", str(site))


def test_relative_and_home_paths_are_registered_absolute(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    vocab_in(home / "m" / "encodings")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("HARMONY_VOCAB_MODEL_DIR", "~/m")
    assert startup.selection(os.environ) == ("model", str(home / "m" / "encodings"))
    monkeypatch.chdir(home)
    monkeypatch.setenv("HARMONY_VOCAB_MODEL_DIR", "m")
    startup.run()
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(home / "m" / "encodings")


def test_leaves_an_operator_value_and_honours_the_opt_out(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", "/operator")
    startup.run()
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == "/operator"
    assert "HARMONY_VOCAB_REGISTERED" not in os.environ
    monkeypatch.delenv("TIKTOKEN_ENCODINGS_BASE")
    monkeypatch.setenv("HARMONY_VOCAB_AUTOREGISTER", "off")
    importlib.reload(startup).run()
    assert "TIKTOKEN_ENCODINGS_BASE" not in os.environ
    assert not any(isinstance(f, startup.TiktokenFinder) for f in sys.meta_path)


def test_an_empty_value_is_replaced(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """openai-harmony fails on TIKTOKEN_ENCODINGS_BASE="" (it reads "/o200k_base.tiktoken")."""
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", "")
    startup.run()
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(site)


def test_redoes_a_value_inherited_from_a_parent_registration(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = vocab_in(tmp_path / "model")
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", "/parent/choice")
    monkeypatch.setenv("HARMONY_VOCAB_REGISTERED", "package:/parent/choice")
    monkeypatch.setenv("HARMONY_VOCAB_MODEL_DIR", str(model))
    startup.run()
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(model)


def test_openai_harmonys_own_cache_is_left_to_it(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No verified copy in the tiers before it: openai-harmony reads its own cache itself."""
    (site / FILE).unlink()
    cache = tmp_path / "rs-cache"
    cache.mkdir()
    shutil.copy(SHARED_VOCAB / FILE, cache / PIN["cache_key"])
    monkeypatch.setenv("TIKTOKEN_RS_CACHE_DIR", str(cache))
    monkeypatch.setenv("HARMONY_VOCAB_CACHE_DIR", str(tmp_path / "ours"))
    startup.run()
    assert "TIKTOKEN_ENCODINGS_BASE" not in os.environ
    vocab_in(tmp_path / "ours")  # our cache comes before it, and has the canonical name
    assert startup.selection(os.environ) == ("cache", str(tmp_path / "ours"))


def test_runs_once_per_process_and_never_raises(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    startup.run()
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", "/changed")
    monkeypatch.setenv("HARMONY_VOCAB_REGISTERED", "package:/changed")
    startup.run()  # site read the .pth twice: nothing more happens
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == "/changed"
    module = importlib.reload(startup)
    monkeypatch.setattr(module, "selection", lambda *a: 1 / 0)
    monkeypatch.delenv("TIKTOKEN_ENCODINGS_BASE")
    module.run()  # a broken state is left for resolve() to report
    assert "TIKTOKEN_ENCODINGS_BASE" not in os.environ


def test_a_model_directory_for_the_other_vocab_is_not_warned_about(site: Path, tmp_path: Path) -> None:
    """A GPT-OSS repository holds o200k only: looking there for cl100k_base is no mistake."""
    model = vocab_in(tmp_path / "gpt-oss" / "original").parent
    cl100k = [p for p in lookup.places("cl100k_base", {"HARMONY_VOCAB_MODEL_DIR": str(model)}) if p.tier == "model"]
    assert [p.on_failure for p in cl100k if p.path is None and p.outcome != "missing"] == [lookup.QUIET]
    empty = tmp_path / "empty-model"
    empty.mkdir()
    nothing = [p for p in lookup.places("cl100k_base", {"HARMONY_VOCAB_MODEL_DIR": str(empty)}) if p.tier == "model"]
    assert [p.on_failure for p in nothing if p.path is None and p.outcome != "missing"] == [lookup.WARN]


def test_a_relative_setting_with_the_current_directory_gone(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    monkeypatch.setenv("HARMONY_VOCAB_MODEL_DIR", "m")
    monkeypatch.setenv("HARMONY_VOCAB_O200K_BASE", "x/o200k_base.tiktoken")
    assert startup.selection(os.environ) == ("package", str(site))


def test_tiktoken_encodings_base_is_taken_as_openai_harmony_takes_it(site: Path, tmp_path: Path) -> None:
    """openai-harmony expands no ~: neither do we, for its variable (ours expand it)."""
    home = tmp_path / "home"
    vocab_in(home / "enc")
    base = {"HOME": str(home), "TIKTOKEN_ENCODINGS_BASE": "~/enc"}
    (env_place,) = [p for p in lookup.places("o200k_base", base) if p.label.startswith("TIKTOKEN_ENCODINGS_BASE")]
    assert env_place.path is not None and "~" in env_place.path and not os.path.exists(env_place.path)
    ours = {"HOME": str(home), "HARMONY_VOCAB_O200K_BASE": "~/enc/o200k_base.tiktoken"}
    assert startup.selection(ours) == ("environment", str(home / "enc"))


def test_empty_foreign_variables_mean_what_their_owners_make_of_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # openai-harmony (Rust): TIKTOKEN_RS_CACHE_DIR="" and TMPDIR="" are the current directory
    assert paths.harmony_cache_dir({"TIKTOKEN_RS_CACHE_DIR": ""}) == str(tmp_path)
    assert paths.harmony_cache_dir({"TMPDIR": ""}) == str(tmp_path / "tiktoken-rs-cache")
    assert paths.harmony_cache_dir({}) == "/tmp/tiktoken-rs-cache"
    # tiktoken: TIKTOKEN_CACHE_DIR="" switches its cache off
    assert paths.tiktoken_cache_dir({"TIKTOKEN_CACHE_DIR": ""}) == ""
    # ours: empty is unset
    assert paths.cache_dir({"HARMONY_VOCAB_CACHE_DIR": "", "HOME": "/h"}) == "/h/.cache/harmony-vocab"
