"""Unit tests of the openai-harmony glue (harmony_vocab.openai_harmony) on synthetic vocabs: the
directory handed to TIKTOKEN_ENCODINGS_BASE, and register(). tests/test_integration.py runs
the real openai-harmony."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Dict, Tuple

import pytest

from harmony_vocab.errors import MissingExtraError, VocabError, VocabNotFoundError
from harmony_vocab.lookup import resolve
from harmony_vocab.openai_harmony import directory_for, load_harmony_encoding, register
from harmony_vocab.pins import Pin

Synthetic = Dict[str, Tuple[Pin, bytes]]


@pytest.fixture(autouse=True)
def restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """register() sets two variables and installs a finder: undone after each test."""
    for var in ("TIKTOKEN_ENCODINGS_BASE", "HARMONY_VOCAB_REGISTERED"):
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))


def fill(directory: Path, synthetic: Synthetic) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for pin, data in synthetic.values():
        (directory / pin.file).write_bytes(data)


def test_an_unknown_encoding_name_lists_the_known_ones() -> None:
    pytest.importorskip("openai_harmony")
    with pytest.raises(VocabError, match="expected one of HarmonyGptOss"):
        load_harmony_encoding("o200k")


def test_directory_is_the_files_own_when_they_are_canonically_named(synthetic: Synthetic, tmp_path: Path) -> None:
    fill(tmp_path / "package", synthetic)
    assert [directory_for(resolve(name)) for name in synthetic] == [tmp_path / "package"] * len(synthetic)


def test_a_renamed_file_gets_a_directory_of_links(synthetic: Synthetic, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pin, data = synthetic["o200k_base"]
    renamed = tmp_path / "weights" / "vocab.bin"
    renamed.parent.mkdir()
    renamed.write_bytes(data)
    monkeypatch.setenv("HARMONY_VOCAB_CACHE_DIR", str(tmp_path / "cache"))
    directory = directory_for(resolve("o200k_base", vocab_path=renamed))
    assert (tmp_path / "cache") in directory.parents
    link = directory / pin.file
    assert link.is_symlink() and os.readlink(link) == str(renamed) and link.read_bytes() == data
    # A cache that cannot be written: links for this process only, in a temporary directory.
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("HARMONY_VOCAB_CACHE_DIR", str(tmp_path / "file"))
    directory = directory_for(resolve("o200k_base", vocab_path=renamed))
    assert (directory / pin.file).read_bytes() == data and (tmp_path / "file") not in directory.parents


def test_a_non_utf8_directory_gets_a_readable_directory_of_links(synthetic: Synthetic, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17.7: openai-harmony cannot read a non-UTF-8 path: the files, canonically named,
    are linked under a UTF-8 one. Control: the same files under a UTF-8 name are used in place."""
    utf8 = tmp_path / "jürgen"
    fill(utf8, synthetic)
    assert directory_for(resolve("o200k_base", vocab_dir=utf8)) == utf8
    latin1 = Path(os.fsdecode(bytes(tmp_path) + b"/j\xfcrgen"))
    fill(latin1, synthetic)
    monkeypatch.setenv("HARMONY_VOCAB_CACHE_DIR", str(tmp_path / "cache"))
    directory = directory_for(resolve("o200k_base", vocab_dir=latin1))
    os.fsencode(directory).decode("utf-8")
    pin, data = synthetic["o200k_base"]
    assert (directory / pin.file).read_bytes() == data and os.readlink(directory / pin.file) == str(latin1 / pin.file)


def test_register_sets_replaces_its_own_value_and_respects_an_operator(
    synthetic: Synthetic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(tmp_path / "package", synthetic)
    assert register() == tmp_path / "package"
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(tmp_path / "package")
    assert os.environ["HARMONY_VOCAB_REGISTERED"] == f"package:{tmp_path / 'package'}"
    assert resolve("o200k_base").tier == "package"  # not counted as the environment tier
    assert sum(type(f).__name__ == "TiktokenFinder" for f in sys.meta_path) == 1
    fill(tmp_path / "model" / "encodings", synthetic)
    assert register(model_dir=tmp_path / "model") == tmp_path / "model" / "encodings"  # its own value: redone
    assert sum(type(f).__name__ == "TiktokenFinder" for f in sys.meta_path) == 1
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", "/operator/choice")
    assert register(model_dir=tmp_path / "model") == Path("/operator/choice")
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == "/operator/choice"


@pytest.mark.parametrize("setting", ["files", "model_dir"])
def test_register_with_relative_settings_hands_over_an_absolute_directory(
    synthetic: Synthetic, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    work = tmp_path / "work"
    fill(work / "vocab", synthetic)
    monkeypatch.chdir(work)
    if setting == "files":
        for pin, _ in synthetic.values():
            monkeypatch.setenv(f"HARMONY_VOCAB_{pin.name.upper()}", f"vocab/{pin.file}")
        directory = register()
    else:
        directory = register(model_dir="vocab")
    assert directory == work / "vocab"
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(work / "vocab")
    monkeypatch.chdir(tmp_path)  # the directory still names the files from anywhere
    for pin, data in synthetic.values():
        assert (Path(os.environ["TIKTOKEN_ENCODINGS_BASE"]) / pin.file).read_bytes() == data


def test_directory_for_a_relative_path_is_absolute(synthetic: Synthetic, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    fill(tmp_path / "v", synthetic)
    monkeypatch.chdir(tmp_path)
    assert directory_for(resolve("o200k_base", vocab_path="v/../v/o200k_base.tiktoken")) == tmp_path / "v"
    renamed = tmp_path / "v" / "renamed.bin"
    renamed.write_bytes(synthetic["o200k_base"][1])
    monkeypatch.setenv("HARMONY_VOCAB_CACHE_DIR", str(tmp_path / "cache"))
    linked = directory_for(resolve("o200k_base", vocab_path="v/renamed.bin"))
    assert linked.is_absolute() and os.readlink(linked / "o200k_base.tiktoken") == str(renamed)


def test_register_with_nothing_found_raises_and_sets_nothing(synthetic: Synthetic) -> None:
    with pytest.raises(VocabNotFoundError):
        register()
    assert "TIKTOKEN_ENCODINGS_BASE" not in os.environ
    assert "HARMONY_VOCAB_REGISTERED" not in os.environ


def test_load_harmony_encoding_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openai_harmony", None)  # as if not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'harmony-vocab\[harmony\]'"):
        load_harmony_encoding("HarmonyGptOss")
