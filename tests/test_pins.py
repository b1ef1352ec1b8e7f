"""Drift tests: vocab_manifest.toml is the single source of truth for the pins; every other copy
(the generated parts of src/_harmony_vocab_lookup.py and src/_harmony_vocab_startup.py,
harmony_vocab.pins.PINS,
harmony_vocab.VOCABS) must match it exactly, and its derived values (sample, cache names,
byte-level fingerprints) must match the real files."""

from __future__ import annotations

import hashlib
import sys
from typing import Any, Dict

import pytest

import _harmony_vocab_lookup as startup
import harmony_vocab
import harmony_vocab.pins
from support import ROOT, SHARED_VOCAB

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
import hatch_build  # noqa: E402

MANIFEST = ROOT / "vocab_manifest.toml"


@pytest.fixture(scope="module")
def manifest() -> Dict[str, Dict[str, Any]]:
    return hatch_build.load_manifest(MANIFEST)


def test_committed_generated_modules_match_the_manifest(manifest: Dict[str, Dict[str, Any]]) -> None:
    for path, rendered in hatch_build.render_modules(ROOT, manifest).items():
        assert path.read_text() == rendered, f"{path} drifted from vocab_manifest.toml: run `python hatch_build.py`"


def test_run_time_pins_match_the_manifest(manifest: Dict[str, Dict[str, Any]]) -> None:
    assert startup.PINS == {
        name: {**entry, "urls": tuple(entry["urls"]),
               "cache_key": hashlib.sha1(entry["urls"][0].encode()).hexdigest()}
        for name, entry in manifest.items()
    }
    fresh = harmony_vocab.pins.PINS
    assert list(fresh) == list(manifest)
    for name, entry in manifest.items():
        pin = fresh[name]
        assert (pin.name, pin.file, pin.sha256, pin.size, pin.ranks, pin.urls, pin.sample) == (
            name, entry["file"], entry["sha256"], entry["size"], entry["ranks"], tuple(entry["urls"]),
            entry["sample"],
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


@pytest.mark.skipif(not SHARED_VOCAB.is_dir(), reason=f"no local vocab mirror at {SHARED_VOCAB}")
def test_samples_are_the_real_files_bytes_and_the_start_up_check_accepts_them(manifest: Dict[str, Dict[str, Any]]) -> None:
    for name, entry in manifest.items():
        data = (SHARED_VOCAB / entry["file"]).read_bytes()
        offsets = startup.sample_offsets(len(data))
        assert offsets[0] == 0 and offsets[-1] == len(data) - startup.SAMPLE_BYTES
        sample = b"".join(data[o:o + startup.SAMPLE_BYTES] for o in offsets)
        assert len(sample) == startup.SAMPLES * startup.SAMPLE_BYTES
        assert sample.hex() == entry["sample"], name
        assert startup.looks_pinned(str(SHARED_VOCAB / entry["file"]), startup.PINS[name])


# The pins' byte_level_sha256 is checked against the vocab of transformers' own tokenizer.json, made
# from the mirror's files: test_hub_cache.py::test_transformers_vocab_matches_the_pinned_fingerprint.
