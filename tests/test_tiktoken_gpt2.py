"""GPT-2's ranks (issue 14): `data_gym_ranks` builds tiktoken's ``data_gym_to_mergeable_bpe_ranks``
from the pinned ``vocab.bpe`` alone, and the hook wraps tiktoken's function with it, tiktoken's own
running for anything else. In-process, on the real files of the mirror and the installed tiktoken;
test_companion.py shows it serving unmodified tiktoken in a venv with the companion."""

from __future__ import annotations

import hashlib
import importlib.util
import types
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

from harmony_vocab.errors import NotShippedError
from harmony_vocab.pins import PINS
from harmony_vocab.tiktoken import data_gym_ranks, patch
from support import SHARED_VOCAB

BPE, ENCODER = PINS["gpt2"].files


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Dict[str, Path]:
    """The mirror's gpt2 files (checked against the pins) by canonical URL; tiktoken's cache off,
    so that tiktoken's own functions read local paths as they are and write nothing."""
    paths = {f.urls[0]: SHARED_VOCAB / "gpt-2" / "encodings" / "main" / f.name for f in (BPE, ENCODER)}
    for f in (BPE, ENCODER):
        assert hashlib.sha256(paths[f.urls[0]].read_bytes()).hexdigest() == f.sha256
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")
    return paths


def fresh_tiktoken_load() -> types.ModuleType:
    """A private copy of the installed ``tiktoken.load``, as tiktoken defines it (never patched)."""
    spec = importlib.util.find_spec("tiktoken.load")
    if spec is None or spec.origin is None:
        pytest.skip("tiktoken is not installed")
    module = types.ModuleType("fresh_tiktoken_load")
    module.__file__ = spec.origin
    exec(compile(Path(spec.origin).read_text(), spec.origin, "exec"), module.__dict__)
    return module


def test_the_fast_ranks_are_tiktokens_own_on_the_real_files(mirror: Dict[str, Path]) -> None:
    original = fresh_tiktoken_load().data_gym_to_mergeable_bpe_ranks
    expected = original(str(mirror[BPE.urls[0]]), str(mirror[ENCODER.urls[0]]), BPE.sha256, ENCODER.sha256)
    asked = []

    def read(url: str, expected_hash: Optional[str]) -> bytes:
        asked.append(url)
        return mirror[url].read_bytes()

    ranks = data_gym_ranks(read, BPE.urls[0], ENCODER.urls[0], BPE.sha256, ENCODER.sha256)
    assert list(ranks.items()) == list(expected.items())  # the same ranks, inserted in the same order
    assert asked == [BPE.urls[0]]  # encoder.json is never read


@pytest.mark.parametrize("call", ["local paths", "a wrong hash", "swapped", "another vocab's file"])
def test_anything_but_the_pinned_pair_is_refused(mirror: Dict[str, Path], call: str) -> None:
    bpe, encoder = BPE.urls[0], ENCODER.urls[0]
    args: Dict[str, Any] = {
        "local paths": (str(mirror[bpe]), str(mirror[encoder])),
        "a wrong hash": (bpe, encoder, BPE.sha256, BPE.sha256),
        "swapped": (encoder, bpe),
        "another vocab's file": (bpe, PINS["r50k_base"].files[0].urls[0]),
    }
    with pytest.raises(NotShippedError):
        data_gym_ranks(lambda url, expected_hash: mirror[url].read_bytes(), *args[call])


def test_the_hook_wraps_data_gym_and_falls_back_to_tiktokens_own(mirror: Dict[str, Path]) -> None:
    module = fresh_tiktoken_load()
    original = module.data_gym_to_mergeable_bpe_ranks
    assert patch(module)
    wrapped = module.data_gym_to_mergeable_bpe_ranks
    assert wrapped is not original and getattr(wrapped, "__harmony_vocab__", False)
    assert wrapped.__wrapped__ is original and wrapped.__name__ == original.__name__
    # Files that are not the pinned ones' URLs: tiktoken's own function, its result as it is.
    local = (str(mirror[BPE.urls[0]]), str(mirror[ENCODER.urls[0]]))
    assert list(wrapped(*local).items()) == list(original(*local).items())
    # ... and its own errors, with nothing of ours chained to them.
    with pytest.raises(FileNotFoundError) as raised:
        wrapped(local[0] + ".absent", local[1])
    assert raised.value.__context__ is None and raised.value.__cause__ is None


def test_a_data_gym_function_that_looks_different_is_left_alone() -> None:
    module = fresh_tiktoken_load()

    def data_gym_to_mergeable_bpe_ranks(vocab_bpe_file: str, encoder_json_file: str, *, other: int = 0) -> Any:
        raise AssertionError("not called")

    module.data_gym_to_mergeable_bpe_ranks = data_gym_to_mergeable_bpe_ranks
    assert patch(module)
    assert getattr(module.load_tiktoken_bpe, "__harmony_vocab__", False)
    assert module.data_gym_to_mergeable_bpe_ranks is data_gym_to_mergeable_bpe_ranks
