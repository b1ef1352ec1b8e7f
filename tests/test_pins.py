"""Drift tests: vocab_manifest.toml is the single source of truth for the pins; every other copy
(the generated src/harmony_vocab/_pins.py, harmony_vocab.pins.PINS, harmony_vocab.VOCABS) must
match it exactly."""

from __future__ import annotations

import hashlib
import sys
from typing import Any, Dict

import pytest

import harmony_vocab
import harmony_vocab._pins
import harmony_vocab.pins
from support import ROOT, SHARED_VOCAB

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
import hatch_build  # noqa: E402

MANIFEST = ROOT / "vocab_manifest.toml"


@pytest.fixture(scope="module")
def manifest() -> Dict[str, Dict[str, Any]]:
    return hatch_build.load_manifest(MANIFEST)


def test_committed_pins_module_is_generated_from_the_manifest(manifest: Dict[str, Dict[str, Any]]) -> None:
    committed = (ROOT / "src" / "harmony_vocab" / "_pins.py").read_text()
    assert committed == hatch_build.render_pins_module(manifest), (
        "src/harmony_vocab/_pins.py drifted from vocab_manifest.toml: run `python hatch_build.py`"
    )


def test_run_time_pins_match_the_manifest(manifest: Dict[str, Dict[str, Any]]) -> None:
    assert harmony_vocab._pins.PINS == {
        name: {**entry, "urls": tuple(entry["urls"])} for name, entry in manifest.items()
    }
    fresh = harmony_vocab.pins.PINS
    assert list(fresh) == list(manifest)
    for name, entry in manifest.items():
        pin = fresh[name]
        assert (pin.name, pin.file, pin.sha256, pin.size, pin.ranks, pin.urls) == (
            name, entry["file"], entry["sha256"], entry["size"], entry["ranks"], tuple(entry["urls"])
        )
        assert pin.canonical_url == entry["urls"][0]
    assert harmony_vocab.pins.VOCABS == tuple(manifest)


def test_public_vocabs_match_the_manifest(manifest: Dict[str, Dict[str, Any]]) -> None:
    assert harmony_vocab.VOCABS == tuple(manifest)


def test_the_manifest_pins_both_known_vocabs(manifest: Dict[str, Dict[str, Any]]) -> None:
    assert set(manifest) == {"o200k_base", "cl100k_base"}
    for name, entry in manifest.items():
        assert entry["urls"][0] == f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"


@pytest.mark.skipif(not SHARED_VOCAB.is_dir(), reason=f"no local vocab mirror at {SHARED_VOCAB}")
def test_local_mirror_matches_the_pins(manifest: Dict[str, Dict[str, Any]]) -> None:
    for entry in manifest.values():
        data = (SHARED_VOCAB / entry["file"]).read_bytes()
        assert len(data) == entry["size"]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert data.count(b"\n") == entry["ranks"]


def test_startup_module_copy_of_the_o200k_pin_matches_the_manifest(manifest: Dict[str, Dict[str, Any]]) -> None:
    import _harmony_vocab_startup

    entry = manifest["o200k_base"]
    assert (_harmony_vocab_startup.O200K_FILE, _harmony_vocab_startup.O200K_SIZE) == (entry["file"], entry["size"])


def test_byte_level_fingerprints_match_the_mirror(manifest: Dict[str, Dict[str, Any]]) -> None:
    from harmony_vocab.tokenizer_json import byte_level_sha256
    from support import SHARED_VOCAB, to_tokenizer_json

    if not SHARED_VOCAB.is_dir():
        pytest.skip(f"no local vocab mirror at {SHARED_VOCAB}")
    for name, entry in manifest.items():
        vocab = to_tokenizer_json((SHARED_VOCAB / entry["file"]).read_bytes())["model"]["vocab"]
        assert byte_level_sha256(vocab) == entry["byte_level_sha256"], name
