"""The start-up registration (_harmony_vocab_startup, run by harmony_vocab.pth), in-process: which
directory it selects, when it leaves TIKTOKEN_ENCODINGS_BASE alone, and that it never raises.
It checks sizes only (openai-harmony hashes the file itself), so sparse files of the pinned size
stand in for the vocab here; tests/test_integration.py runs it for real at interpreter start."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

import _harmony_vocab_startup as startup


def vocab_in(directory: Path, size: int = startup.O200K_SIZE) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / startup.O200K_FILE
    with open(path, "wb") as f:
        f.truncate(size)
    return directory


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the module whose "site-packages" holds harmony_vocab/data."""
    module = importlib.reload(startup)
    monkeypatch.setattr(module, "_HERE", str(tmp_path / "site"))
    return vocab_in(tmp_path / "site" / "harmony_vocab" / "data")


def test_registers_the_package_data(site: Path) -> None:
    startup.run()
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(site)
    assert os.environ["HARMONY_VOCAB_REGISTERED"] == f"package:{site}"


def test_order_env_file_then_model_dir_then_package(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "model"
    vocab_in(model / "original")
    vocab_in(model / "tokenizer")
    monkeypatch.setenv("HARMONY_VOCAB_MODEL_DIR", str(model))
    assert startup.startup_directory() == ("model", str(model / "tokenizer"))
    env_dir = vocab_in(tmp_path / "env")
    monkeypatch.setenv("HARMONY_VOCAB_O200K_BASE", str(env_dir / startup.O200K_FILE))
    assert startup.startup_directory() == ("environment", str(env_dir))
    # A wrongly sized or renamed file is passed over (resolve() reports it later).
    vocab_in(env_dir, size=10)
    monkeypatch.setenv("HARMONY_VOCAB_MODEL_DIR", str(tmp_path / "nowhere"))
    assert startup.startup_directory() == ("package", str(site))


def test_leaves_an_operator_value_and_honours_the_opt_out(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", "/operator")
    startup.run()
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == "/operator"
    assert "HARMONY_VOCAB_REGISTERED" not in os.environ
    monkeypatch.delenv("TIKTOKEN_ENCODINGS_BASE")
    monkeypatch.setenv("HARMONY_VOCAB_AUTOREGISTER", "off")
    importlib.reload(startup).run()
    assert "TIKTOKEN_ENCODINGS_BASE" not in os.environ


def test_redoes_a_value_inherited_from_a_parent_registration(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = vocab_in(tmp_path / "model")
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", "/parent/choice")
    monkeypatch.setenv("HARMONY_VOCAB_REGISTERED", "package:/parent/choice")
    monkeypatch.setenv("HARMONY_VOCAB_MODEL_DIR", str(model))
    startup.run()
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(model)


def test_runs_once_per_process_and_never_raises(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    startup.run()
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", "/changed")
    monkeypatch.setenv("HARMONY_VOCAB_REGISTERED", "package:/changed")
    startup.run()  # site read the .pth twice: nothing more happens
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == "/changed"
    module = importlib.reload(startup)
    monkeypatch.setattr(module, "startup_directory", lambda *a: 1 / 0)
    monkeypatch.delenv("TIKTOKEN_ENCODINGS_BASE")
    module.run()  # a broken state is left for resolve() to report
    assert "TIKTOKEN_ENCODINGS_BASE" not in os.environ
