"""The model tier on Hugging Face's own output (issue 9, items 3 and 4): the hub cache found where
huggingface_hub finds it, laid out as huggingface_hub lays it out, and a tokenizer.json made by
transformers' converter for tiktoken files, resolved by repo id with no network.

Everything Hugging Face-made comes from the hf_python venv (tests/hf_producer.py), never from our
own code; the hub cache is written by huggingface_hub's hf_hub_download (fixture hf_hub).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

import harmony_vocab.tiers as loc
import harmony_vocab.tokenizer_json as tj
from harmony_vocab.lookup import resolve
from harmony_vocab.pins import PINS
from lookup import report_in_subprocess
from support import HF_PRODUCER, HUB_COMMIT, HUB_REPOS, HUB_TWO_REVISIONS, SHARED_VOCAB, HubCache, offline, run

pytestmark = pytest.mark.integration  # Hugging Face's tools come from PyPI into a venv of their own

# ------------------------------------------------------------------ where the hub cache is

# Each variable huggingface_hub reads, in the order it reads them.
HUB_VARS = ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME")


def _cases() -> List[Tuple[str, Dict[str, str]]]:
    """Every combination of the four variables set (to distinct absolute paths) or unset, then
    each variable alone set to a ``~`` path, a relative path, a path holding ``$HOME`` and the
    empty string (set, so huggingface_hub takes it as a path)."""
    cases = []
    for mask in itertools.product((False, True), repeat=len(HUB_VARS)):
        env = {var: f"/srv/{var.lower()}" for var, on in zip(HUB_VARS, mask) if on}
        cases.append(("+".join(env) or "none", env))
    for var in HUB_VARS:
        for form, value in (("tilde", f"~/{var.lower()}"), ("relative", f"rel/{var.lower()}"),
                            ("dollar", f"$HOME/{var.lower()}"), ("empty", "")):
            cases.append((f"{var}={form}", {var: value}))
    return cases


HUB_CACHE_CASES = _cases()


@pytest.mark.parametrize("env", [e for _, e in HUB_CACHE_CASES], ids=[i for i, _ in HUB_CACHE_CASES])
def test_hub_cache_is_where_huggingface_hub_puts_it(hf_python: Path, env: Dict[str, str], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Our hub cache directory is huggingface_hub.constants.HF_HUB_CACHE, computed by the real
    package in a fresh process with the same variables, home and working directory (a relative
    value is relative to it; an empty one is set, and huggingface_hub takes "" as a path: so do
    we, for its variables)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    for var in HUB_VARS:
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    monkeypatch.chdir(cwd)
    proc = run([hf_python, HF_PRODUCER, "cache-dir"], env=dict(os.environ), cwd=cwd)
    theirs = Path(json.loads(proc.stdout)["HF_HUB_CACHE"])
    assert Path(os.path.abspath(loc.hf_hub_cache(os.environ))) == Path(os.path.abspath(theirs))


# ------------------------------------------------------------------ the layout huggingface_hub writes


def test_huggingface_hub_wrote_symlinks_into_blobs(hf_hub: HubCache) -> None:
    """What the lookup reads is what huggingface_hub writes: snapshot entries are relative
    symlinks to blobs/<sha256>, refs/main holds the commit."""
    repo_id, older, main = HUB_TWO_REVISIONS
    repo = hf_hub.repo(repo_id)
    assert (repo / "refs" / "main").read_text() == main
    vocab_sha = PINS["o200k_base"].sha256
    for entry in (hf_hub.snapshot(repo_id, older) / "o200k_base.tiktoken",
                  hf_hub.snapshot(repo_id, main) / "original" / "o200k_base.tiktoken"):
        assert entry.is_symlink() and not os.path.isabs(os.readlink(entry))
        assert entry.resolve() == (repo / "blobs" / vocab_sha).resolve()


def test_repo_id_takes_the_snapshot_refs_main_names(hf_hub: HubCache, monkeypatch: pytest.MonkeyPatch) -> None:
    repo_id, older, main = HUB_TWO_REVISIONS
    monkeypatch.setenv("HF_HUB_CACHE", str(hf_hub.cache))
    r = resolve("o200k_base", model_dir=repo_id)
    assert (r.tier, r.path) == ("model", hf_hub.snapshot(repo_id, main) / "original" / "o200k_base.tiktoken")


def test_without_refs_main_the_snapshots_go_by_name(hf_hub: HubCache, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The control of the test above: the same cache without refs/main gives the other snapshot,
    so it is refs/main that chose."""
    repo_id, older, _ = HUB_TWO_REVISIONS
    copy = HubCache(tmp_path / "hub")
    shutil.copytree(hf_hub.repo(repo_id), copy.repo(repo_id), symlinks=True)
    (copy.repo(repo_id) / "refs" / "main").unlink()
    monkeypatch.setenv("HF_HUB_CACHE", str(copy.cache))
    r = resolve("o200k_base", model_dir=repo_id)
    assert (r.tier, r.path) == ("model", copy.snapshot(repo_id, older) / "o200k_base.tiktoken")


# ------------------------------------------------------------------ transformers' tokenizer.json


def tokenizer_json(hf_hub: HubCache, name: str) -> Path:
    return hf_hub.snapshot(HUB_REPOS[name], HUB_COMMIT) / "tokenizer.json"


@pytest.mark.parametrize("name", sorted(HUB_REPOS))
def test_transformers_made_the_tokenizer_json_with_the_gpt_oss_special_tokens(hf_hub: HubCache, name: str) -> None:
    """The fixture is what it claims: the converter's BPE vocab of every rank, the GPT-OSS
    special tokens after it, in a snapshot entry symlinked into blobs/."""
    path = tokenizer_json(hf_hub, name)
    assert path.is_symlink() and path.resolve().parent.name == "blobs"
    data = json.loads(path.read_bytes())
    pin = PINS[name]
    assert data["model"]["type"] == "BPE" and len(data["model"]["vocab"]) == pin.ranks
    added = {t["content"]: t["id"] for t in data["added_tokens"]}
    assert len(added) == 1091 and added["<|startoftext|>"] == pin.ranks
    assert all(t["special"] for t in data["added_tokens"])
    if name == "o200k_base":  # the real GPT-OSS ids
        assert (added["<|return|>"], added["<|call|>"], added["<|reserved_201088|>"]) == (200002, 200012, 201088)


@pytest.mark.parametrize("name", sorted(HUB_REPOS))
def test_transformers_vocab_matches_the_pinned_fingerprint(hf_hub: HubCache, name: str) -> None:
    """The pins' byte_level_sha256 (vocab_manifest.toml) is the one of transformers' vocab of the
    real file, ids in rank order: a tokenizer.json from the hub takes the fast path (no per-token
    rebuild). The only check of those pins against a producer other than ours."""
    vocab = json.loads(tokenizer_json(hf_hub, name).read_bytes())["model"]["vocab"]
    assert tj._matches_fingerprint(vocab, PINS[name])


def _package_dir(tmp_path: Path, name: str, bundled: bool) -> Path:
    package = tmp_path / "package"
    package.mkdir()
    if bundled:
        shutil.copyfile(SHARED_VOCAB / PINS[name].file, package / PINS[name].file)
    return package


@pytest.mark.parametrize("bundled", [True, False], ids=["bundled", "no-bundled"])
@pytest.mark.parametrize("name", sorted(HUB_REPOS))
def test_repo_id_with_transformers_tokenizer_json_resolves_offline(
        hf_hub: HubCache, name: str, bundled: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HARMONY_VOCAB_MODEL_DIR=<repo id> with only transformers' tokenizer.json in the hub cache:
    tier model, the pinned bytes, in a process with no network. With the package's copy there,
    the model tier still wins (it comes first; the copy serves as the reference the fingerprint
    path returns); without it, every rank is rebuilt from the tokenizer.json."""
    package = str(_package_dir(tmp_path, name, bundled))
    monkeypatch.setattr(loc, "data_dir", lambda wheel: package)
    monkeypatch.setenv("HF_HUB_CACHE", str(hf_hub.cache))
    monkeypatch.setenv(loc.ENV_MODEL_DIR, HUB_REPOS[name])
    monkeypatch.setenv(loc.ENV_CACHE_DIR, str(tmp_path / "ours"))
    report = report_in_subprocess(name, {}, prefix=tuple(offline([])))
    assert (report.get("tier"), report.get("error")) == ("model", None), report
    path = Path(report["path"])
    assert hashlib.sha256(path.read_bytes()).hexdigest() == PINS[name].sha256
    assert str(path).startswith(str(tmp_path / "ours") + os.sep)  # the rebuilt copy, kept in our cache
    assert report["rebuilds"] == 1
    assert report["warnings"] == []


@pytest.mark.parametrize("name", sorted(HUB_REPOS))
def test_repo_id_not_in_the_hub_cache_is_not_found_offline(name: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The control: the same offline process, the repo id in no hub cache and no package copy:
    nothing is found, and the trace names the hub cache path it looked for."""
    package = str(_package_dir(tmp_path, name, bundled=False))
    monkeypatch.setattr(loc, "data_dir", lambda wheel: package)
    empty = tmp_path / "empty-hub"
    empty.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(empty))
    monkeypatch.setenv(loc.ENV_MODEL_DIR, HUB_REPOS[name])
    monkeypatch.setenv(loc.ENV_CACHE_DIR, str(tmp_path / "ours"))
    report: Dict[str, Any] = report_in_subprocess(name, {}, prefix=tuple(offline([])))
    assert report.get("error") == "VocabNotFoundError", report
    model = [a for a in report["attempts"] if a[0] == "model"]
    assert model and str(empty / ("models--" + HUB_REPOS[name].replace("/", "--"))) in " ".join(model[0][1:3])
