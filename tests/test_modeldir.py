"""Unit tests of the model-directory tier (issue 3): the four sub-locations in order, Hugging Face
hub cache lookup by repo id (no network), and vocabs rebuilt from a byte-level BPE tokenizer.json.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest

import harmony_vocab.tiers as loc
import harmony_vocab.tokenizer_json as tj
from harmony_vocab import VocabWarning
from harmony_vocab.errors import VocabNotFoundError
from harmony_vocab.lookup import resolve
from harmony_vocab.tiers import MODEL_SUBDIRS as SUBDIRS
from harmony_vocab.tiers import model_roots
from harmony_vocab.tokenizer_json import TokenizerJsonError, rebuild
from support import BYTE_ENCODER, to_tokenizer_json
from lookup import NAME, World, cache_dir, flip, report_in_subprocess, write_candidate

pytestmark = pytest.mark.usefixtures("connections")  # no network but 127.0.0.1

# ------------------------------------------------------------------------------ helpers


def sub(root: Path, where: str) -> Path:
    return root / where if where else root


def tokenizer_dict(data: bytes) -> Dict[str, Any]:
    return to_tokenizer_json(data)


def write_tokenizer(directory: Path, content: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tokenizer.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    return path


def change_token(tok: Dict[str, Any], rank: int) -> Tuple[bytes, bytes]:
    """Give `rank` other bytes (same length) in a tokenizer.json dict; return (old, new) bytes."""
    vocab = tok["model"]["vocab"]
    text = next(t for t, r in vocab.items() if r == rank)
    old = text.translate(tj.BYTE_DECODER).encode("latin-1")
    new = bytes([old[0] ^ 0x01]) + old[1:]
    new_text = new.decode("latin-1").translate(BYTE_ENCODER)
    assert new_text not in vocab
    del vocab[text]
    vocab[new_text] = rank
    return old, new


class Rebuilds(List[Path]):
    """The paths tokenizer_json.rebuild was called with, in order; `delay` (seconds) is slept
    before each rebuild, for tests that need threads to overlap one."""

    delay: float = 0.0


@pytest.fixture
def rebuilds(monkeypatch: pytest.MonkeyPatch) -> Rebuilds:
    """Record calls of tokenizer_json.rebuild (looked up at call time by the lookup)."""
    calls = Rebuilds()
    real = tj.rebuild

    def spy(path: Path, *args: Any, **kwargs: Any) -> bytes:
        calls.append(Path(path))
        if calls.delay:
            time.sleep(calls.delay)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(tj, "rebuild", spy)
    return calls


def kept_dir() -> Path:
    return cache_dir() / "from-tokenizer-json"


def hub_repo(repo_id: str, hub: Optional[Path] = None) -> Path:
    hub = hub if hub is not None else Path(os.environ["HF_HUB_CACHE"])
    return hub / ("models--" + repo_id.replace("/", "--"))


def hub_snapshot(repo_id: str, rev: str, files: Dict[str, bytes], hub: Optional[Path] = None,
                 main: bool = False) -> Path:
    """A snapshot as huggingface_hub lays it out (test_hub_cache.py checks that layout on a cache
    huggingface_hub wrote): files are relative symlinks to blobs/<sha256>, refs/main the commit."""
    repo = hub_repo(repo_id, hub)
    snap = repo / "snapshots" / rev
    for rel, content in files.items():
        blob = repo / "blobs" / hashlib.sha256(content).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(content)
        link = snap / rel
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, link.parent), link)
    if main:
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(rev)
    return snap


# ------------------------------------------------------------------------------ sub-locations


def test_sub_location_order(world: World) -> None:
    """The trace lists a model directory's copies in the order they are tried: the directory,
    encodings/, tokenizer/, original/ (each under its own name first, then the caches' name)."""
    model = world.base / "model"
    for where in SUBDIRS:
        write_candidate(sub(model, where) / world.pin.file, "flipped", world.data)
        write_candidate(sub(model, where) / world.pin.cache_key, "flipped", world.data)
    world.place("package")
    with pytest.warns(VocabWarning):
        r = resolve(NAME, model_dir=model)
    assert r.tier == "package"
    assert [a.place for a in r.attempts if a.tier == "model"] == [
        str(sub(model, where) / name) for where in SUBDIRS for name in (world.pin.file, world.pin.cache_key)]


SUB_PAIRS = [(a, b) for i, a in enumerate(SUBDIRS) for b in SUBDIRS[i + 1:]]


@pytest.mark.parametrize("first,second", SUB_PAIRS, ids=[f"{a or 'root'}>{b}" for a, b in SUB_PAIRS])
def test_earlier_sub_location_wins(world: World, first: str, second: str) -> None:
    model = world.base / "model"
    write_candidate(sub(model, second) / world.pin.file, "good", world.data)
    write_candidate(sub(model, first) / world.pin.file, "good", world.data)
    r = resolve(NAME, model_dir=model)
    assert (r.tier, r.path) == ("model", sub(model, first) / world.pin.file)


@pytest.mark.parametrize("where", SUBDIRS)
def test_each_sub_location_is_searched(world: World, where: str) -> None:
    model = world.base / "model"
    write_candidate(sub(model, where) / world.pin.file, "good", world.data)
    world.mp.setenv(loc.ENV_MODEL_DIR, str(model))
    r = resolve(NAME)
    assert (r.tier, r.path) == ("model", sub(model, where) / world.pin.file)
    # Only the places that hold something are listed.
    assert [a.place for a in r.attempts if a.tier == "model"] == [str(sub(model, where) / world.pin.file)]


def test_bad_file_in_earlier_sub_location_warns_and_later_one_wins(world: World) -> None:
    model = world.base / "model"
    write_candidate(model / world.pin.file, "flipped", world.data)
    write_candidate(model / "original" / world.pin.file, "good", world.data)
    with pytest.warns(VocabWarning, match="sha256 mismatch"):
        r = resolve(NAME, model_dir=model)
    assert (r.tier, r.path) == ("model", model / "original" / world.pin.file)


def test_a_tiktoken_file_anywhere_beats_a_tokenizer_json(world: World, rebuilds: List[Path]) -> None:
    model = world.base / "model"
    write_tokenizer(model, tokenizer_dict(world.data))
    write_candidate(model / "original" / world.pin.file, "good", world.data)
    r = resolve(NAME, model_dir=model)
    assert r.path == model / "original" / world.pin.file
    assert rebuilds == []


def test_model_dir_that_is_a_file_or_missing(world: World) -> None:
    world.place("package")
    a_file = world.base / "weights.bin"
    a_file.write_bytes(b"x")
    for model_dir in (a_file, world.base / "absent"):
        with pytest.warns(VocabWarning, match="not a directory"):
            r = resolve(NAME, model_dir=model_dir)
        assert r.tier == "package"
        assert [a.outcome for a in r.attempts if a.tier == "model"] == ["not a directory"]


# ------------------------------------------------------------------------------ tokenizer.json


@pytest.mark.parametrize("where", SUBDIRS)
def test_tokenizer_json_only_resolves_to_the_pinned_bytes(world: World, where: str,
                                                          rebuilds: List[Path]) -> None:
    model = world.base / "model"
    tokenizer = write_tokenizer(sub(model, where), tokenizer_dict(world.data))
    r = resolve(NAME, model_dir=model)
    assert r.tier == "model"
    assert r.path.read_bytes() == world.data
    assert r.path.name == world.pin.file
    assert kept_dir() in r.path.parents
    assert rebuilds == [tokenizer]
    assert str(tokenizer) in r.attempts[-1].place
    # Within the process: the kept copy is used, no rebuild.
    assert resolve(NAME, model_dir=model).path == r.path
    assert rebuilds == [tokenizer]


def test_tokenizer_json_kept_copy_serves_a_new_process(world: World) -> None:
    model = world.base / "model"
    write_tokenizer(model / "tokenizer", tokenizer_dict(world.data))
    world.mp.setenv(loc.ENV_MODEL_DIR, str(model))
    first = report_in_subprocess(NAME, {})
    assert first["tier"] == "model", first
    assert first["rebuilds"] == 1
    kept = Path(first["path"])
    assert kept.read_bytes() == world.data and kept_dir() in kept.parents
    before = kept.stat()
    time.sleep(0.02)
    second = report_in_subprocess(NAME, {})
    assert (second["tier"], second["path"]) == ("model", str(kept)), second
    assert second["rebuilds"] == 0
    after = kept.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_ctime_ns) == (before.st_ino, before.st_mtime_ns, before.st_ctime_ns)


def test_corrupt_kept_copy_is_rebuilt(world: World, rebuilds: List[Path]) -> None:
    model = world.base / "model"
    write_tokenizer(model, tokenizer_dict(world.data))
    kept = resolve(NAME, model_dir=model).path
    kept.write_bytes(flip(world.data))
    r = resolve(NAME, model_dir=model)
    assert r.path == kept and kept.read_bytes() == world.data
    assert len(rebuilds) == 2
    # The same in a new process, whose first look at the kept copy finds it damaged.
    kept.write_bytes(flip(world.data))
    report = report_in_subprocess(NAME, {"model_dir": str(model)})
    assert (report.get("tier"), report.get("path"), report["rebuilds"]) == ("model", str(kept), 1), report
    assert kept.read_bytes() == world.data and report["warnings"] == []


def test_changed_tokenizer_json_is_rebuilt(world: World, rebuilds: List[Path]) -> None:
    """The kept copy is keyed by the tokenizer.json's content: new content is rebuilt anew, a
    touched file (same bytes, new mtime) is not."""
    model = world.base / "model"
    tok = tokenizer_dict(world.data)
    tokenizer = write_tokenizer(model, tok)
    first = resolve(NAME, model_dir=model).path
    st = tokenizer.stat()
    os.utime(tokenizer, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert resolve(NAME, model_dir=model).path == first
    assert len(rebuilds) == 1
    tok["added_tokens"] = [{"id": world.pin.ranks, "content": "<|endoftext|>", "special": True}]
    write_tokenizer(model, tok)
    second = resolve(NAME, model_dir=model).path
    assert len(rebuilds) == 2 and second != first and second.read_bytes() == world.data


def test_one_changed_token_is_rejected_naming_the_rank(world: World) -> None:
    """With the pinned vocab at hand (the package copy), the message names the differing rank."""
    world.place("package")
    model = world.base / "model"
    tok = tokenizer_dict(world.data)
    rank = world.pin.ranks - 2
    old, new = change_token(tok, rank)
    tokenizer = write_tokenizer(model, tok)
    with pytest.warns(VocabWarning) as caught:
        r = resolve(NAME, model_dir=model)
    assert r.tier == "package"
    detail = f"rank {rank} is {new!r} in tokenizer.json, {old!r} in the pinned vocab"
    assert len(caught) == 1 and detail in str(caught[0].message)
    rejected = [a for a in r.attempts if a.place == str(tokenizer)]
    assert len(rejected) == 1
    assert rejected[0].outcome.startswith("rebuilt vocab rejected:")
    assert f"not the pinned {NAME}" in rejected[0].outcome and detail in rejected[0].outcome
    assert not kept_dir().exists() or not any(kept_dir().rglob("*.tiktoken"))


def rejection_of_changed_token(world: World, rank: int) -> str:
    """Resolve from a model dir whose tokenizer.json has `rank` changed; the rejection's outcome."""
    model = world.base / "model"
    tok = tokenizer_dict(world.data)
    change_token(tok, rank)
    write_tokenizer(model, tok)
    with pytest.warns(VocabWarning):
        with pytest.raises(VocabNotFoundError) as info:
            resolve(NAME, model_dir=model)
    (rejected,) = [a for a in info.value.attempts if a.outcome.startswith("rebuilt vocab rejected")]
    return rejected.outcome


def test_one_changed_token_without_reference_still_says_why(world: World) -> None:
    outcome = rejection_of_changed_token(world, world.pin.ranks - 3)
    assert f"expected {world.pin.sha256}, {world.pin.size} bytes" in outcome
    assert "rank" not in outcome.split("bytes;")[-1]


def test_corrupt_reference_is_not_used_to_name_a_rank(world: World) -> None:
    """A damaged package copy must not be quoted as "the pinned vocab"."""
    write_candidate(world.package / world.pin.file, "flipped", world.data)
    assert "in the pinned vocab" not in rejection_of_changed_token(world, world.pin.ranks - 4)


def test_missing_rank_is_rejected(world: World) -> None:
    tok = tokenizer_dict(world.data)
    vocab = tok["model"]["vocab"]
    del vocab[next(t for t, r in vocab.items() if r == 7)]
    path = write_tokenizer(world.base / "model", tok)
    with pytest.raises(TokenizerJsonError, match=rf"1 of the {world.pin.ranks} ranks of {NAME} are missing \(first: 7\)"):
        rebuild(path, world.pin)


def test_special_tokens_above_the_ranks_are_ignored(world: World) -> None:
    tok = tokenizer_dict(world.data)
    tok["model"]["vocab"]["<|endoftext|>"] = world.pin.ranks + 10
    path = write_tokenizer(world.base / "model", tok)
    assert rebuild(path, world.pin) == world.data


@pytest.mark.parametrize("content,reason", [
    (b"{not json", "is not valid JSON"),
    (b"\xff\xfe\x00garbage", "is not valid JSON"),
    (b"", "is not valid JSON"),
    ([1, 2, 3], "expected a BPE model with a 'vocab' object"),
    ({"model": {"type": "WordPiece", "vocab": {"a": 0}}}, "expected a BPE model with a 'vocab' object"),
    ({"model": {"type": "Unigram", "vocab": [["a", 0.0]]}}, "expected a BPE model with a 'vocab' object"),
    ({"model": {"type": "BPE"}}, "expected a BPE model with a 'vocab' object"),
    ({"version": "1.0"}, "expected a BPE model with a 'vocab' object"),
    ("non-byte-level", "is not byte-level BPE"),
], ids=["truncated-json", "binary", "empty", "list", "wordpiece", "unigram", "no-vocab", "no-model",
        "not-byte-level"])
def test_non_bpe_or_garbage_is_rejected(world: World, content: Any, reason: str) -> None:
    if content == "non-byte-level":
        content = tokenizer_dict(world.data)
        content["model"]["vocab"]["中文"] = 3  # a character GPT-2's byte mapping never produces
    world.place("package")
    model = world.base / "model"
    tokenizer = write_tokenizer(model, content)
    with pytest.raises(TokenizerJsonError, match=reason):
        rebuild(tokenizer, world.pin)
    with pytest.warns(VocabWarning, match=reason):
        r = resolve(NAME, model_dir=model)
    assert r.tier == "package"
    (rejected,) = [a for a in r.attempts if a.place == str(tokenizer)]
    assert reason in rejected.outcome and str(tokenizer) in rejected.outcome


def test_round_trip_of_every_byte(tmp_path: Path) -> None:
    """Every byte survives GPT-2's byte-to-unicode mapping both ways."""
    import base64

    from support import make_pin

    data = b"".join(base64.b64encode(bytes([b])) + b" %d\n" % b for b in range(256))
    tok = to_tokenizer_json(data)
    vocab = tok["model"]["vocab"]  # type: ignore[index]
    assert len(vocab) == 256 and all(len(t) == 1 for t in vocab)
    assert vocab["Ġ"] == ord(" ") and vocab["!"] == ord("!")
    path = write_tokenizer(tmp_path, tok)
    assert rebuild(path, make_pin(NAME, data)) == data


# ------------------------------------------------------------------------------ Hugging Face hub


def test_repo_id_found_in_hub_cache(world: World, connections: List[object]) -> None:
    snap = hub_snapshot("openai/gpt-oss-20b", "abc123", {world.pin.file: world.data}, main=True)
    connections.clear()
    r = resolve(NAME, model_dir="openai/gpt-oss-20b")
    assert (r.tier, r.path) == ("model", snap / world.pin.file)
    assert connections == []


def test_repo_id_refs_main_wins_over_other_snapshots(world: World) -> None:
    # "aaa" sorts first, but refs/main names "zzz".
    hub_snapshot("org/name", "aaa", {world.pin.file: world.data})
    preferred = hub_snapshot("org/name", "zzz", {f"original/{world.pin.file}": world.data}, main=True)
    roots, how = model_roots("org/name", os.environ)
    assert [os.path.basename(p) for p in roots] == ["zzz", "aaa"]
    assert str(hub_repo("org/name")) in how
    r = resolve(NAME, model_dir="org/name")
    assert r.path == preferred / "original" / world.pin.file


def test_repo_id_without_refs_main_takes_snapshots_by_name(world: World) -> None:
    hub_snapshot("org/name", "bbb", {world.pin.file: world.data})
    first = hub_snapshot("org/name", "aaa", {world.pin.file: world.data})
    r = resolve(NAME, model_dir="org/name")
    assert r.path == first / world.pin.file
    # A refs/main naming a revision that is not there is ignored.
    (hub_repo("org/name") / "refs").mkdir()
    (hub_repo("org/name") / "refs" / "main").write_text("gone\n")
    assert resolve(NAME, model_dir="org/name").path == first / world.pin.file


def test_refs_main_with_trailing_newline(world: World) -> None:
    hub_snapshot("org/name", "aaa", {world.pin.file: world.data})
    main = hub_snapshot("org/name", "bbb", {world.pin.file: world.data}, main=True)
    (hub_repo("org/name") / "refs" / "main").write_text("bbb\n")
    assert resolve(NAME, model_dir="org/name").path == main / world.pin.file


@pytest.mark.parametrize("variant", ["HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME", "default"])
def test_hub_cache_locations(world: World, variant: str) -> None:
    """A repo id is found in each place of the order (test_hub_cache.py checks the order itself
    against huggingface_hub)."""
    world.mp.delenv("HF_HUB_CACHE", raising=False)
    hub = {
        "HF_HUB_CACHE": world.base / "hub-cache",
        "HUGGINGFACE_HUB_CACHE": world.base / "legacy-hub-cache",
        "HF_HOME": world.base / "hf-home" / "hub",
        "XDG_CACHE_HOME": world.base / "xdg" / "huggingface" / "hub",
        "default": Path(os.environ["HOME"]) / ".cache" / "huggingface" / "hub",
    }[variant]
    if variant in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        world.mp.setenv(variant, str(hub))
    elif variant == "HF_HOME":
        world.mp.setenv("HF_HOME", str(hub.parent))
    elif variant == "XDG_CACHE_HOME":
        world.mp.setenv("XDG_CACHE_HOME", str(hub.parent.parent))
    snap = hub_snapshot("org/name", "r1", {world.pin.file: world.data}, hub=hub, main=True)
    world.mp.setenv(loc.ENV_MODEL_DIR, "org/name")
    r = resolve(NAME)
    assert (r.tier, r.path) == ("model", snap / world.pin.file)


def test_repo_id_with_only_tokenizer_json(world: World, rebuilds: List[Path]) -> None:
    content = json.dumps(tokenizer_dict(world.data), ensure_ascii=False).encode()
    hub_snapshot("openai/gpt-oss-20b", "abc", {"tokenizer.json": content}, main=True)
    r = resolve(NAME, model_dir="openai/gpt-oss-20b")
    assert r.tier == "model" and r.path.read_bytes() == world.data
    assert len(rebuilds) == 1


def test_repo_id_not_in_cache_warns_and_falls_through(world: World, connections: List[object]) -> None:
    world.place("package")
    connections.clear()
    with pytest.warns(VocabWarning, match="Hugging Face cache"):
        r = resolve(NAME, model_dir="openai/gpt-oss-120b")
    assert r.tier == "package"
    assert connections == []
    (note,) = [a for a in r.attempts if a.tier == "model"]
    assert str(hub_repo("openai/gpt-oss-120b")) in note.outcome


@pytest.mark.parametrize("text", ["../x", "/abs/path", "a/b/c", "org", "-org/name", "org/na me"])
def test_not_a_repo_id(world: World, text: str) -> None:
    roots, how = model_roots(text, os.environ)
    assert roots == [] and how == "not a directory"


def test_local_directory_wins_over_a_repo_id_of_the_same_name(world: World,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    hub_snapshot("org/name", "r1", {world.pin.file: world.data}, main=True)
    monkeypatch.chdir(world.base)
    write_candidate(world.base / "org" / "name" / world.pin.file, "good", world.data)
    r = resolve(NAME, model_dir="org/name")
    assert r.path.resolve() == (world.base / "org" / "name" / world.pin.file).resolve()


# ------------------------------------------------------------------ the byte-level fingerprint


class _NoPerTokenWork:
    """Stands in for base64 in tokenizer_json: any per-token rebuild fails the test."""

    @staticmethod
    def b64encode(data: bytes) -> bytes:
        raise AssertionError("rebuilt token by token despite a matching fingerprint")


def test_matching_fingerprint_skips_the_per_token_rebuild(world: World) -> None:
    reference = world.place("package")
    tokenizer = write_tokenizer(world.base / "m", tokenizer_dict(world.data))
    world.mp.setattr(tj, "base64", _NoPerTokenWork)
    assert rebuild(tokenizer, world.pin, reference=reference) == world.data


def test_fingerprint_needs_ids_in_rank_order_and_unique(world: World) -> None:
    vocab = tokenizer_dict(world.data)["model"]["vocab"]
    assert tj._matches_fingerprint(vocab, world.pin)
    shuffled = dict(reversed(list(vocab.items())))
    assert not tj._matches_fingerprint(shuffled, world.pin)
    reused = dict(vocab, **{"ĠextraĠtoken": 5})
    assert not tj._matches_fingerprint(reused, world.pin)
    # Shuffled still rebuilds (the slow way) to the pinned bytes; a reused id is rejected.
    reference = world.place("package")
    shuffled_file = write_tokenizer(world.base / "s", {"model": {"type": "BPE", "vocab": shuffled}})
    assert rebuild(shuffled_file, world.pin, reference=reference) == world.data
    reused_file = write_tokenizer(world.base / "r", {"model": {"type": "BPE", "vocab": reused}})
    with pytest.raises(TokenizerJsonError, match="rank 5"):
        rebuild(reused_file, world.pin, reference=reference)


def test_fingerprint_of_a_changed_token_does_not_match(world: World) -> None:
    tok = tokenizer_dict(world.data)
    change_token(tok, world.pin.ranks - 1)  # a multi-byte token
    assert not tj._matches_fingerprint(tok["model"]["vocab"], world.pin)


def test_model_dir_with_nothing_in_it_warns_once(world: World) -> None:
    model = world.base / "empty-model"
    (model / "original").mkdir(parents=True)
    with pytest.warns(VocabWarning, match="holds neither") as caught:
        with pytest.raises(VocabNotFoundError):
            resolve(NAME, model_dir=model)
    assert len(caught) == 1


def test_unwritable_cache_keeps_the_rebuilt_copy_for_the_process(world: World) -> None:
    not_a_dir = world.base / "cache-is-a-file"
    not_a_dir.write_text("")
    world.mp.setenv(loc.ENV_CACHE_DIR, str(not_a_dir))
    model = world.base / "model"
    write_tokenizer(model, tokenizer_dict(world.data))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = resolve(NAME, model_dir=model)
    assert r.tier == "model" and r.path.read_bytes() == world.data
    assert str(r.path) in r.attempts[-1].place  # the trace says where the copy is
    assert not_a_dir not in r.path.parents and not_a_dir.is_file()
    assert resolve(NAME, model_dir=model).path == r.path  # kept for the process


# ------------------------------------------------------------------ one search of a model directory


@pytest.mark.parametrize("layout", ["original/<sha1 of the URL>", "<sha1 of the URL>", "encodings/<name>"])
def test_verify_and_resolve_agree_on_a_model_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       layout: str) -> None:
    """Issue 15: a directory holding the vocab only under the name the caches give it (the sha1
    of its URL), in original/, passes `verify DIR` and is found by `resolve --model-dir DIR`:
    both search it by one function (tiers.directory_places). Real pins, real files."""
    from harmony_vocab.cli import main
    from harmony_vocab.pins import PINS
    from support import SHARED_VOCAB

    pin = PINS[NAME]
    model = tmp_path / "model"
    rel = layout.replace("<sha1 of the URL>", pin.cache_key).replace("<name>", pin.file)
    (model / rel).parent.mkdir(parents=True, exist_ok=True)
    (model / rel).write_bytes((SHARED_VOCAB / pin.file).read_bytes())
    assert main(["verify", str(model)]) == 0
    out = capsys.readouterr().out
    assert str(model / rel) in out and "FAILED" not in out
    assert main(["resolve", NAME, "--model-dir", str(model), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["tier"], report["paths"]) == ("model", [str(model / rel)])
    assert resolve(NAME, model_dir=model).path == model / rel


def test_verify_and_resolve_agree_on_a_name_neither_knows(world: World,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """The control: the same file under a name neither tier knows (the sha1 of another URL) is
    refused by both."""
    from harmony_vocab.cli import main

    model = world.base / "model"
    other = hashlib.sha1(b"https://example.invalid/o200k_base.tiktoken").hexdigest()
    write_candidate(model / "original" / other, "good", world.data)
    world.place("package")
    assert main(["verify", str(model)]) == 1
    capsys.readouterr()
    with pytest.warns(VocabWarning, match="holds neither"):
        assert resolve(NAME, model_dir=model).tier == "package"


# ------------------------------------------------------------------ rebuilt copies, keyed by content


def test_copies_of_a_model_directory_share_one_rebuilt_copy(world: World, rebuilds: List[Path]) -> None:
    """Two copies of one model directory (say, on two mounts) hold the same tokenizer.json: one
    rebuild, one kept copy, in this process and in the next; other content gets its own."""
    content = json.dumps(tokenizer_dict(world.data), ensure_ascii=False).encode()
    first = write_tokenizer(world.base / "copy-a", content)
    write_tokenizer(world.base / "copy-b" / "original", content)
    a = resolve(NAME, model_dir=first.parent)
    b = resolve(NAME, model_dir=world.base / "copy-b")
    assert a.path == b.path and a.path.read_bytes() == world.data
    assert cache_dir() in a.path.parents
    assert rebuilds == [first]
    report = report_in_subprocess(NAME, {"model_dir": str(world.base / "copy-b")})
    assert (report.get("tier"), report.get("path"), report["rebuilds"]) == ("model", str(a.path), 0), report
    # The control: a tokenizer.json with other content (a special token added) is another copy.
    tok = tokenizer_dict(world.data)
    tok["added_tokens"] = [{"id": world.pin.ranks, "content": "<|endoftext|>", "special": True}]
    third = write_tokenizer(world.base / "copy-c", tok)
    c = resolve(NAME, model_dir=third.parent)
    assert c.path != a.path and c.path.read_bytes() == world.data
    assert rebuilds == [first, third]


# ------------------------------------------------------------------ threads at once


def resolve_in_threads(model: Path, count: int = 8) -> Tuple[List[Any], List[str]]:
    """`resolve` of `model` from `count` threads released at once: their results (a Resolution or
    the exception) and every VocabWarning any of them raised."""
    import threading

    barrier = threading.Barrier(count, timeout=30)
    results: List[Any] = [None] * count

    def work(i: int) -> None:
        barrier.wait()
        try:
            results[i] = resolve(NAME, model_dir=model)
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results[i] = exc

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    return results, [str(w.message) for w in caught if issubclass(w.category, VocabWarning)]


def test_threads_resolving_one_tokenizer_json_rebuild_once_without_warning(world: World,
                                                                           rebuilds: Rebuilds) -> None:
    rebuilds.delay = 0.3  # each rebuild takes a while, so that the threads overlap it
    model = world.base / "model"
    tokenizer = write_tokenizer(model, tokenizer_dict(world.data))
    results, warned = resolve_in_threads(model)
    assert warned == []
    assert all(getattr(r, "tier", None) == "model" for r in results), results
    assert len({r.path for r in results}) == 1 and results[0].path.read_bytes() == world.data
    assert rebuilds == [tokenizer]


def test_threads_resolving_a_bad_tokenizer_json_each_warn(world: World, rebuilds: Rebuilds) -> None:
    """The control: the warnings of every thread are seen (a rejected tokenizer.json: each thread
    warns), and the file is still rebuilt, and rejected, once."""
    rebuilds.delay = 0.3  # as above: the threads overlap the one rebuild
    model = world.base / "model"
    tok = tokenizer_dict(world.data)
    change_token(tok, world.pin.ranks - 1)
    tokenizer = write_tokenizer(model, tok)
    world.place("package")
    results, warned = resolve_in_threads(model)
    assert all(getattr(r, "tier", None) == "package" for r in results), results
    assert len(warned) == len(results) and all(f"not the pinned {NAME}" in w for w in warned)
    assert rebuilds == [tokenizer]
