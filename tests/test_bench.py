"""Smoke test of the benchmark script: its quickest mode (one run of everything) must still produce
the table and the JSON with every figure of issue 5. No timing is asserted."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from support import ROOT, SHARED_VOCAB

BENCH = ROOT / "bench"
SCRIPT = BENCH / "bench.py"

# Every figure of the table, with the title the printed table shows for it.
FIGURES = {
    "startup": "interpreter start",
    "import_many": "300 small modules",
    "import": "import harmony_vocab",
    "resolve_first": "first call in a process",
    "resolve_repeat": "repeated in the same process",
    "harmony_load": "load_harmony_encoding",
    "tiktoken_encoding": "tiktoken_encoding",
    "tiktoken_hook": "through the hook",
    "model_dir_first": "tokenizer.json",
    "model_dir_second": "second process",
    "wheel_size": "wheel size",
    "wheel_build": "wheel build",
}

VENV_INSTALL_FAILED = 4  # bench.py's exit code when pip cannot install its venvs' packages


def bench_module(monkeypatch: pytest.MonkeyPatch, name: str) -> ModuleType:
    """One of bench/'s modules, imported as bench.py imports it (bench/ first on sys.path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module(name)


def _default_work() -> Path:
    spec = importlib.util.spec_from_file_location("bench_harness", BENCH / "harness.py")
    assert spec is not None and spec.loader is not None
    harness = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(harness)
    work: Path = harness.default_work_dir()
    return work


# The benchmark's own work folder (outside the checkout), from the environment the suite started
# in, read at collection (the isolated fixture gives each test a fresh HOME): its venvs and wheels
# are reused from one run of the suite to the next.
WORK = _default_work()


def test_wheel_cache_key_covers_every_build_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cached wheel is keyed by the files it is built from: the start-up module and .pth that
    the wheel force-includes and the pins' manifest among them; built or cached files are not."""
    bench = bench_module(monkeypatch, "sources")
    rel = {p.relative_to(ROOT).as_posix() for p in bench.source_files(ROOT)}
    for name in ("src/_harmony_vocab_startup.py", "src/_harmony_vocab_lookup.py", "src/_harmony_vocab_paths.py",
                 "src/harmony_vocab.pth", "vocab_manifest.toml",
                 "pyproject.toml", "hatch_build.py", "README.md", "src/harmony_vocab/__init__.py"):
        assert name in rel, name
    assert not any(name.endswith((".tiktoken", ".pyc")) for name in rel)

    tree = bench.copy_source_tree(ROOT, tmp_path / "tree")
    key = bench.source_key(tree)
    assert key == bench.source_key(ROOT)  # the copy is what the key describes
    # Not inputs: a built vocab file, bytecode.
    (tree / "src" / "harmony_vocab" / "data").mkdir(exist_ok=True)
    (tree / "src" / "harmony_vocab" / "data" / "o200k_base.tiktoken").write_bytes(b"x")
    (tree / "src" / "__pycache__").mkdir(exist_ok=True)
    (tree / "src" / "__pycache__" / "_harmony_vocab_lookup.cpython-311.pyc").write_bytes(b"x")
    assert bench.source_key(tree) == key
    # Inputs: each change gives another key.
    for name in ("src/_harmony_vocab_startup.py", "src/_harmony_vocab_lookup.py", "vocab_manifest.toml",
                 "src/harmony_vocab.pth"):
        copy = tmp_path / "changed"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(tree, copy)
        with open(copy / name, "a") as f:
            f.write("\n# changed\n")
        assert bench.source_key(copy) != key, name


@pytest.mark.integration
def test_bench_quick_mode_produces_every_figure(tmp_path: Path) -> None:
    if not SHARED_VOCAB.is_dir():
        pytest.skip(f"no local vocab mirror at {SHARED_VOCAB} to build the wheel from")
    out = tmp_path / "results.json"
    # The venvs and the wheel are cached in WORK (reused while they match, one set per Python);
    # the rest of the environment is the test's own, isolated one.
    before = checkout_files(BENCH)
    cmd = [sys.executable, str(SCRIPT), "--quick", "--json", str(out), "--vocab-mirror", str(SHARED_VOCAB),
           "--work", str(WORK)]
    proc = subprocess.run(cmd, env=dict(os.environ), capture_output=True, text=True, timeout=1800,
                          check=False)
    if proc.returncode == VENV_INSTALL_FAILED:
        pytest.skip(f"bench could not install its venvs (no package index?):\n{proc.stderr[-2000:]}")
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"

    table = [line for line in proc.stdout.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in table[0].split("|")[1:-1]]
    assert header == ["figure", "subject", "baseline", "ratio", "target", "met?"]
    rows = table[2:]
    assert len(rows) == len(FIGURES)
    for title in FIGURES.values():
        assert any(title in row for row in rows), f"no row for {title!r} in:\n{proc.stdout}"

    results = json.loads(out.read_text())
    figures = {f["key"]: f for f in results["figures"]}
    assert set(figures) == set(FIGURES)
    for key, figure in figures.items():
        assert figure["subject"]["runs"] == 1, key
        assert figure["subject"]["median"] > 0, key
        if key != "resolve_repeat":  # the only figure without a baseline
            assert figure["baseline"]["median"] > 0, key
            assert figure["ratio"] > 0, key
        assert figure["target"]["text"], key
    for field in ("nproc", "cpu", "python", "date"):
        assert results["machine"][field], field
    assert isinstance(results["startup_modules"], list)
    assert "commit" in results["source"]
    breakdown = results["wheel_breakdown"]
    assert breakdown["bytes"] == results["wheel"]["bytes"]
    assert sum(breakdown["compressed"].values()) + breakdown["zip_structure"] == breakdown["bytes"]
    assert checkout_files(BENCH) == before, "the benchmark left files in the checkout"


def checkout_files(directory: Path) -> set:
    """Every file and directory under `directory`, tracked, untracked or ignored."""
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*")}
