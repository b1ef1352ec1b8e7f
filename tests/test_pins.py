"""vocab_manifest.toml is the one source of the pins: the generated ``harmony_vocab/_pins.py`` is
its rendering, the run-time pins are its entries, the companion's manifest is the same file, and
its values are the real files' (the local mirror) and the very hashes tiktoken itself pins."""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

import harmony_vocab
import harmony_vocab.pins
from support import ROOT, SHARED_VOCAB

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
import hatch_build  # noqa: E402

MANIFEST = ROOT / "vocab_manifest.toml"
needs_mirror = pytest.mark.skipif(not SHARED_VOCAB.is_dir(), reason=f"no local vocab mirror at {SHARED_VOCAB}")


@pytest.fixture(scope="module")
def manifest() -> Dict[str, Any]:
    return hatch_build.load_manifest(MANIFEST)


def mirror_path(f: Dict[str, Any]) -> Path:
    """Where the mirror keeps a pinned file: by its name, else by its URL's path
    (gpt-2/encodings/main/vocab.bpe)."""
    by_name = SHARED_VOCAB / f["name"]
    return by_name if by_name.is_file() else SHARED_VOCAB / f["urls"][0].split("://", 1)[1].split("/", 1)[1]


def test_the_generated_pins_are_the_manifest_rendered(manifest: Dict[str, Any]) -> None:
    generated = ROOT / "src" / "harmony_vocab" / "_pins.py"
    assert generated.read_text("utf-8") == hatch_build.render_pins(manifest), \
        "_pins.py drifted from vocab_manifest.toml: run `python hatch_build.py`"


def test_the_companion_builds_from_the_same_manifest_and_hook() -> None:
    for name in ("vocab_manifest.toml", "hatch_build.py"):
        assert (ROOT / "legacy" / name).resolve() == (ROOT / name).resolve()


def test_run_time_pins_are_the_manifest_entries(manifest: Dict[str, Any]) -> None:
    pins = harmony_vocab.pins.PINS
    assert set(pins) == set(manifest["vocab"])  # the order: VOCABS, below (tests may re-insert synthetic pins)
    assert harmony_vocab.VOCABS == harmony_vocab.pins.VOCABS == tuple(manifest["vocab"])
    assert harmony_vocab.pins.WHEELS == manifest["wheel"]
    for name, entry in manifest["vocab"].items():
        pin = pins[name]
        assert (pin.name, pin.wheel, pin.harmony, pin.encodings, pin.ranks, pin.byte_level_sha256) == (
            name, entry["wheel"], entry.get("harmony", False), tuple(entry["encodings"]), entry.get("ranks", 0),
            entry.get("byte_level_sha256"))
        assert [(f.vocab, f.name, f.sha256, f.size, f.urls) for f in pin.files] == [
            (name, f["name"], f["sha256"], f["size"], tuple(f["urls"])) for f in entry["files"]]
        for f in pin.files:  # the name tiktoken's and openai-harmony's caches give it
            assert f.cache_key == hashlib.sha1(f.urls[0].encode()).hexdigest()
    assert harmony_vocab.pins.harmony_pin().name == "o200k_base"
    assert [n for n, p in pins.items() if p.wheel == "core"] == ["o200k_base", "cl100k_base"]


@needs_mirror
def test_every_pin_is_the_mirror_file(manifest: Dict[str, Any]) -> None:
    for name, entry in manifest["vocab"].items():
        for f in entry["files"]:
            data = mirror_path(f).read_bytes()
            assert (len(data), hashlib.sha256(data).hexdigest()) == (f["size"], f["sha256"]), (name, f["name"])
            if "ranks" in entry:
                assert data.count(b"\n") == entry["ranks"], name


def tiktoken_pins() -> Dict[str, List[Any]]:
    """What the installed tiktoken's tiktoken_ext/openai_public.py pins, read from its source:
    ``{url: [sha256, [encodings whose constructor reads it]]}``."""
    spec = importlib.util.find_spec("tiktoken_ext.openai_public")
    if spec is None or spec.origin is None:
        pytest.skip("tiktoken is not installed")
    tree = ast.parse(Path(spec.origin).read_text("utf-8"))
    constructors = {}
    for node in tree.body:  # ENCODING_CONSTRUCTORS = {"gpt2": gpt2, ...}
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "ENCODING_CONSTRUCTORS" for t in node.targets):
            assert isinstance(node.value, ast.Dict)
            constructors = {ast.literal_eval(k): v.id for k, v in zip(node.value.keys, node.value.values)
                            if k is not None and isinstance(v, ast.Name)}
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}

    def calls(function: str) -> List[ast.Call]:
        """The calls in `function`, and in the functions of this module it calls (o200k_harmony)."""
        found = [n for n in ast.walk(functions[function]) if isinstance(n, ast.Call)]
        return found + [c for n in found if isinstance(n.func, ast.Name) and n.func.id in functions
                        for c in calls(n.func.id)]

    out: Dict[str, List[Any]] = {}
    for encoding, function in constructors.items():
        for call in calls(function):
            kw = {k.arg: ast.literal_eval(k.value) for k in call.keywords
                  if k.arg and isinstance(k.value, ast.Constant)}
            pairs = [(kw[k], kw.get(k[: -len("_file")] + "_hash")) for k in kw if k.endswith("_file")]
            first = call.args[0] if call.args else None
            if isinstance(first, ast.Constant) and str(first.value).startswith("https://"):  # load_tiktoken_bpe
                pairs.append((first.value, kw.get("expected_hash")))
            for url, sha256 in pairs:
                out.setdefault(url, [sha256, []])[1].append(encoding)
    return out


def test_every_pin_is_what_tiktoken_itself_pins(manifest: Dict[str, Any]) -> None:
    theirs = tiktoken_pins()
    assert set(theirs) >= {"https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
                           "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/encoder.json"}
    ours = {f["urls"][0]: [f["sha256"], sorted(entry["encodings"])]
            for entry in manifest["vocab"].values() for f in entry["files"]}
    # every file tiktoken's public encodings read is pinned, with tiktoken's hash and encodings
    assert {url: [sha, sorted(encs)] for url, (sha, encs) in theirs.items()} == ours


def bytes_to_unicode() -> Dict[int, str]:
    """GPT-2's byte-to-unicode table, as its encoder.py defines it."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


@needs_mirror
def test_byte_level_fingerprints_are_the_mirror_files(manifest: Dict[str, Any]) -> None:
    table = bytes_to_unicode()
    assert len(set(table.values())) == 256
    fingerprinted = {n: e for n, e in manifest["vocab"].items() if "byte_level_sha256" in e}
    assert set(fingerprinted) == {"o200k_base", "cl100k_base"}
    for name, entry in fingerprinted.items():
        texts = []
        for rank, line in enumerate((SHARED_VOCAB / entry["files"][0]["name"]).read_bytes().splitlines()):
            token, given = line.split()
            assert int(given) == rank
            texts.append("".join(table[b] for b in base64.b64decode(token)))
        assert hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest() == entry["byte_level_sha256"], name
