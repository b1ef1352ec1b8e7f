"""Smoke test of the benchmark script: its quickest mode (one run of everything) must still produce
the table and the JSON with every figure, and leave nothing behind. No timing is asserted."""

from __future__ import annotations

import importlib
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

# Every figure, with the title the printed table shows for it. Start-up-sized costs come twice:
# wall time, and the CPU time of the child (key + "_cpu").
TIMED_TWICE = {
    "startup_import": "import _harmony_vocab_startup",
    "startup": "interpreter start (python -c pass)",
    "startup_floor": "floor: interpreter start with a .pth",
    "cli_launcher": "floor: pip's console-script launcher",
    "companion_startup": "with the companion installed too",
    "cli_path": "harmony-vocab path o200k_base",
    "cli_resolve": "harmony-vocab resolve o200k_base",
    "cli_verify": "harmony-vocab verify",
}
FIGURES = {
    **TIMED_TWICE,
    **{key + "_cpu": title for key, title in TIMED_TWICE.items()},
    "import_many": "300 small modules",
    "import": "import harmony_vocab",
    "resolve_first": "first call in a process",
    "resolve_repeat": "repeated in the same process",
    "harmony_load": "load_harmony_encoding",
    "tiktoken_encoding": "tiktoken_encoding",
    "tiktoken_hook": 'get_encoding("o200k_base") through the hook',
    "tiktoken_hook_gpt2": 'get_encoding("gpt2") through the hook',
    "tiktoken_hook_r50k": 'get_encoding("r50k_base") through the hook',
    "model_dir_first": "tokenizer.json",
    "model_dir_second": "second process",
    "wheel_size": "wheel size (core)",
    "companion_wheel_size": "companion wheel size",
    "wheel_build": "wheel build",
}
ALLOWANCE = {"cli_resolve", "cli_resolve_cpu", "cli_verify", "cli_verify_cpu"}  # hashing subtracted

# The pip cache of the environment the suite started in (each test gets a fresh HOME): the quick
# run's venvs install from it instead of downloading again.
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")

VENV_INSTALL_FAILED = 4  # bench.py's exit code when pip cannot install its venvs' packages


def bench_module(monkeypatch: pytest.MonkeyPatch, name: str) -> ModuleType:
    """One of bench/'s modules, imported as bench.py imports it (bench/ first on sys.path)."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module(name)


def test_wheel_cache_key_covers_every_build_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cached wheels are keyed by the files they are built from: the start-up module, .pth and
    .start file that the wheel force-includes, the pins' manifest and the companion's project
    among them; built or cached files (vocab copies, the generated pins, bytecode) are not."""
    bench = bench_module(monkeypatch, "sources")
    rel = {p.relative_to(ROOT).as_posix() for p in bench.source_files(ROOT)}
    for name in ("src/_harmony_vocab_startup.py", "src/harmony_vocab.pth", "src/harmony_vocab.start",
                 "vocab_manifest.toml", "pyproject.toml", "hatch_build.py", "README.md",
                 "src/harmony_vocab/__init__.py", "src/harmony_vocab/tiers.py", "legacy/pyproject.toml",
                 "legacy/src/harmony_vocab_legacy/__init__.py"):
        assert name in rel, name
    assert not any(name.endswith((".tiktoken", ".pyc", "_pins.py")) or "/data/" in name for name in rel)

    tree = bench.copy_source_tree(ROOT, tmp_path / "tree")
    key = bench.source_key(tree)
    assert key == bench.source_key(ROOT)  # the copy is what the key describes
    # The companion's build hook and manifest stay links to the root's, as in the repository.
    assert os.readlink(tree / "legacy" / "hatch_build.py") == os.readlink(ROOT / "legacy" / "hatch_build.py")
    # Not inputs: built vocab files, the generated pins, bytecode.
    for data in (tree / "src" / "harmony_vocab" / "data", tree / "legacy" / "src" / "harmony_vocab_legacy" / "data"):
        data.mkdir(exist_ok=True)
        (data / "vocab.bpe").write_bytes(b"x")
    (tree / "src" / "harmony_vocab" / "_pins.py").write_text("PINS = {}\n")
    (tree / "src" / "__pycache__").mkdir(exist_ok=True)
    (tree / "src" / "__pycache__" / "_harmony_vocab_startup.cpython-311.pyc").write_bytes(b"x")
    assert bench.source_key(tree) == key
    # Inputs: each change gives another key.
    for name in ("src/_harmony_vocab_startup.py", "src/harmony_vocab/tiers.py", "vocab_manifest.toml",
                 "src/harmony_vocab.pth", "src/harmony_vocab.start", "legacy/pyproject.toml"):
        copy = tmp_path / "changed"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(tree, copy, symlinks=True)
        with open(copy / name, "a") as f:
            f.write("\n# changed\n")
        assert bench.source_key(copy) != key, name


@pytest.mark.integration
@pytest.mark.slow  # builds both wheels and four venvs: on the default Python only
def test_bench_quick_mode_produces_every_figure_and_leaves_nothing(tmp_path: Path) -> None:
    if not SHARED_VOCAB.is_dir():
        pytest.skip(f"no local vocab mirror at {SHARED_VOCAB} to build the wheels from")
    out = tmp_path / "results.json"
    temp = tmp_path / "tmp"  # where the quick run makes its temporary work folder
    temp.mkdir()
    before = checkout_files(BENCH)
    cmd = [sys.executable, str(SCRIPT), "--quick", "--json", str(out), "--vocab-mirror", str(SHARED_VOCAB)]
    env = dict(os.environ, TMPDIR=str(temp), PIP_CACHE_DIR=PIP_CACHE)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800, check=False)
    if proc.returncode == VENV_INSTALL_FAILED:
        pytest.skip(f"bench could not install its venvs (no package index?):\n{proc.stderr[-2000:]}")
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-6000:]}"

    table = [line for line in proc.stdout.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in table[0].split("|")[1:-1]]
    assert header == ["figure", "subject", "baseline", "ratio", "target", "met?"]
    rows = table[2:]
    assert len(rows) == len(FIGURES)
    for key, title in FIGURES.items():
        matching = [row for row in rows if title in row]
        assert matching, f"no row for {key} ({title!r}) in:\n{proc.stdout}"
        if key in TIMED_TWICE:
            assert any(", wall" in row for row in matching) and any(", CPU" in row for row in matching), key

    results = json.loads(out.read_text())
    figures = {f["key"]: f for f in results["figures"]}
    assert set(figures) == set(FIGURES)
    for key, figure in figures.items():
        assert figure["subject"]["runs"] == 1, key
        assert figure["subject"]["median"] > 0, key
        if key != "resolve_repeat":  # the only figure without a baseline
            assert figure["baseline"]["median"] > 0, key
            assert figure["ratio"] is not None, key
        assert figure["target"]["text"], key
        assert (figure["allowance"] is not None) == (key in ALLOWANCE), key
    for field in ("nproc", "cpu", "python", "date"):
        assert results["machine"][field], field
    assert isinstance(results["startup_modules"], list)
    assert "commit" in results["source"]
    for wheel, breakdown in (("wheel", results["wheel_breakdown"]["core"]),
                             ("legacy_wheel", results["wheel_breakdown"]["legacy"])):
        assert breakdown["bytes"] == results[wheel]["bytes"]
        assert sum(breakdown["compressed"].values()) + breakdown["zip_structure"] == breakdown["bytes"]
        assert breakdown["compressed"]["vocab"] > 0, wheel
    # Nothing left behind: no work folder in the temporary directory, no file in the checkout.
    # (files of other tools that use TMPDIR, such as a CA bundle a site-wide .pth writes, are theirs)
    left = [p for p in temp.iterdir() if p.is_dir() or "harmony" in p.name or "bench" in p.name]
    assert left == [], "the quick run left its work folder behind"
    assert checkout_files(BENCH) == before, "the benchmark left files in the checkout"


def checkout_files(directory: Path) -> set:
    """Every file and directory under `directory`, tracked, untracked or ignored."""
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*")}
