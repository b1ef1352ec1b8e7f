"""The figures of the benchmark, each measured against its baseline in the same run.

A figure is a function ``fig_<key>(s, runs)`` returning one `Figure` or a list of them; `PLAN` maps
each key (``--only``) to its function and to the run count it takes.

To add a figure: (1) write the measured program as a script in probes/ that takes its inputs as
arguments and prints one JSON line holding "seconds" (plus any value to check, e.g. "tier");
(2) write ``fig_<key>(s, runs)`` here: ``s.child(python, "<script>.py", [args], env, expect)``
runs it in a fresh process with no network and returns the seconds, `interleave` alternates
subject and baseline runs, and a `Figure` carries the title, unit, target (``ratio_max`` and/or
``value_max``) and note; anything the figure needs prepared once goes into `environment.prepare`
and `Setup`; (3) add the key to `PLAN`; (4) add the figure's key and title to FIGURES in
tests/test_bench.py, and its line to bench/RESULTS.md.
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Tuple, Union

from environment import EMPTY_PROJECT, O200K, VOCAB_FILES, Setup
from harness import SetupError, run
from sources import copy_source_tree
from stats import Figure, interleave


def fig_startup(s: Setup, runs: int) -> Figure:
    env = s.env()

    def start(python: Path) -> Callable[[int], float]:
        def measure(_: int) -> float:
            t0 = time.perf_counter()
            subprocess.run([str(python), "-c", "pass"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=True)
            return (time.perf_counter() - t0) * 1e3
        return measure

    subject, baseline = interleave(runs, start(s.subject_python), start(s.baseline_python),
                                   warmup=max(1, min(5, runs)))
    return Figure("startup", "interpreter start (python -c pass), registration + tiktoken hook", "ms", subject,
                  baseline, "same venv without harmony-vocab", ratio_max=1.03)


def fig_import_many(s: Setup, runs: int) -> Figure:
    """What the start-up finder costs every later import: 300 small modules, hook on vs off."""
    directory = s.work / "small-modules"

    def importing(**env: str) -> Callable[[int], float]:
        return lambda _: s.child(s.subject_python, "import_many.py", [directory, 300], s.env(**env)) * 1e3

    subject, baseline = interleave(runs, importing(), importing(HARMONY_VOCAB_AUTOREGISTER="0"), warmup=2)
    return Figure("import_many", "importing 300 small modules after start-up, tiktoken hook installed", "ms",
                  subject, baseline, "same venv, HARMONY_VOCAB_AUTOREGISTER=0 (no hook)", ratio_max=1.01,
                  note="each run a fresh process: the fastest of 20 rounds of importing them again")


def fig_import(s: Setup, runs: int) -> Figure:
    env = s.env()

    def importing(module: str) -> Callable[[int], float]:
        return lambda _: s.child(s.subject_python, "import_time.py", [module], env) * 1e3

    subject, baseline = interleave(runs, importing("harmony_vocab"), importing("certifi"), warmup=1)
    return Figure("import", "import harmony_vocab", "ms", subject, baseline, "import certifi",
                  ratio_max=1.5, value_max=2.0,
                  note="both in venv-subject, in fresh processes; a module the start-up imported (see "
                       "startup_modules) is dropped from sys.modules first, so its code runs again")


def fig_resolve_first(s: Setup, runs: int) -> Figure:
    env = s.env()
    subject, baseline = interleave(
        runs,
        lambda _: s.child(s.subject_python, "resolve_time.py", [], env, {"tier": "package"}) * 1e3,
        lambda _: s.child(s.baseline_python, "hash_file.py", [s.data_dir / O200K], env) * 1e3,
        warmup=1,
    )
    return Figure("resolve_first", 'resolve("o200k_base"), first call in a process', "ms", subject, baseline,
                  "hashlib.sha256 of the file read into memory", ratio_max=1.2)


def fig_resolve_repeat(s: Setup, runs: int) -> Figure:
    env = s.env()
    subject, _ = interleave(runs, lambda _: s.child(s.subject_python, "resolve_repeat.py", [2000], env) * 1e6)
    return Figure("resolve_repeat", 'resolve("o200k_base"), repeated in the same process', "us", subject,
                  value_max=50.0, note="mean of 2000 calls after the first, per process")


def load_figure(s: Setup, runs: int, key: str, subject_call: str, baseline_call: str, baseline_title: str,
                env: Mapping[str, str], baseline_env: Mapping[str, str], ratio_max: float = 1.05,
                title: str = "") -> Figure:
    """probes/load_encoding.py's `subject_call` in venv-subject against `baseline_call` in
    venv-baseline; both must encode "hello world" to 2 tokens."""
    subject, baseline = interleave(
        runs,
        lambda _: s.child(s.subject_python, "load_encoding.py", [subject_call], env, {"tokens": 2}) * 1e3,
        lambda _: s.child(s.baseline_python, "load_encoding.py", [baseline_call], baseline_env, {"tokens": 2}) * 1e3,
        warmup=1,
    )
    argument = {"harmony_vocab.load_harmony_encoding": '"HarmonyGptOss"'}.get(subject_call, '"o200k_base"')
    return Figure(key, title or f"{subject_call}({argument})", "ms", subject, baseline, baseline_title,
                  ratio_max=ratio_max)


def fig_harmony(s: Setup, runs: int) -> Figure:
    return load_figure(s, runs, "harmony_load", "harmony_vocab.load_harmony_encoding",
                       "openai_harmony.load_harmony_encoding",
                       "openai_harmony.load_harmony_encoding, TIKTOKEN_ENCODINGS_BASE set by hand",
                       s.env(), s.env(TIKTOKEN_ENCODINGS_BASE=str(s.data_dir)))


def fig_tiktoken(s: Setup, runs: int) -> Figure:
    env = s.env(TIKTOKEN_CACHE_DIR=str(s.tiktoken_cache))
    return load_figure(s, runs, "tiktoken_encoding", "harmony_vocab.tiktoken_encoding", "tiktoken.get_encoding",
                       'tiktoken.get_encoding("o200k_base"), warm tiktoken cache', env, env)


def fig_tiktoken_hook(s: Setup, runs: int) -> Figure:
    """Unmodified tiktoken.get_encoding served by the start-up hook (tiktoken's cache empty)
    against tiktoken reading the same file from a warm cache of its own."""
    empty = s.work / "home" / "empty-tiktoken-cache"
    empty.mkdir(parents=True, exist_ok=True)
    return load_figure(s, runs, "tiktoken_hook", "tiktoken.get_encoding", "tiktoken.get_encoding",
                       'tiktoken.get_encoding("o200k_base"), warm tiktoken cache, no harmony-vocab',
                       s.env(TIKTOKEN_CACHE_DIR=str(empty)), s.env(TIKTOKEN_CACHE_DIR=str(s.tiktoken_cache)),
                       ratio_max=1.0, title='unmodified tiktoken.get_encoding("o200k_base") through the hook, offline')


def fig_model_dir(s: Setup, runs: int) -> List[Figure]:
    seconds: List[float] = []
    tokenizer = s.model_dir / "tokenizer.json"

    def first_then_second(i: int) -> float:
        cache = s.work / "home" / "model-cache" / f"run{i}"
        shutil.rmtree(cache, ignore_errors=True)
        env = s.env(HARMONY_VOCAB_CACHE_DIR=str(cache))
        first = s.child(s.subject_python, "resolve_time.py", [s.model_dir], env, {"tier": "model"})
        second = s.child(s.subject_python, "resolve_time.py", [s.model_dir], env, {"tier": "model"})
        shutil.rmtree(cache, ignore_errors=True)
        if i >= 0:
            seconds.append(second * 1e3)
        return first * 1e3

    first, baseline = interleave(
        runs, first_then_second,
        lambda _: s.child(s.baseline_python, "json_load.py", [tokenizer], s.env()) * 1e3,
        warmup=1,
    )
    return [
        Figure("model_dir_first", "first resolve from a model dir holding only tokenizer.json (o200k)", "ms",
               first, baseline, "json.load of that tokenizer.json", ratio_max=2.0,
               note="empty HARMONY_VOCAB_CACHE_DIR each run"),
        Figure("model_dir_second", "... then the second process (rebuilt copy kept in the cache)", "ms",
               seconds, baseline, "json.load of that tokenizer.json", value_max=50.0),
    ]


def vocab_zip(data_dir: Path) -> bytes:
    """The wheel-size baseline: both vocab files in a zip at deflate level 9."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in VOCAB_FILES:
            zf.write(data_dir / name, name)
    return buffer.getvalue()


def zlib_deflate(data: bytes, level: int) -> bytes:
    """Raw deflate (what a zip member holds) of `data` at `level`."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def wheel_breakdown(wheel: Path, baseline_bytes: int) -> Dict[str, Any]:
    """Where the wheel's bytes go, against the baseline zip: the compressed size of every member
    (grouped as vocab / package code / start-up files / .dist-info), what recompressing the vocab
    members at level 9 would save, and the zip structure (local headers, central directory)."""
    groups: Dict[str, int] = {"vocab": 0, "code": 0, "startup": 0, "dist_info": 0}
    members: List[Dict[str, Any]] = []
    vocab_at_9 = 0
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            name = info.filename
            if name.endswith(".tiktoken"):
                group = "vocab"
                vocab_at_9 += len(zlib_deflate(zf.read(info), 9))
            elif ".dist-info/" in name:
                group = "dist_info"
            elif "/" not in name:
                group = "startup"  # harmony_vocab.pth, _harmony_vocab_lookup.py
            else:
                group = "code"
            groups[group] += info.compress_size
            members.append({"name": name, "group": group, "size": info.file_size,
                            "compressed": info.compress_size})
    total = wheel.stat().st_size
    payload = sum(groups.values())
    return {
        "bytes": total,
        "baseline_bytes": baseline_bytes,
        "over_baseline": total - baseline_bytes,
        "allowed_over_baseline": math.floor(baseline_bytes * 0.02),
        "compressed": groups,
        "vocab_at_level_9": vocab_at_9,
        "zip_structure": total - payload,  # local headers, central directory, end record
        "entries": len(members),
        "members": members,
    }


def fig_wheel_size(s: Setup, runs: int) -> Figure:
    baseline = len(vocab_zip(s.data_dir))
    breakdown = wheel_breakdown(s.wheel, baseline)
    s.wheel_breakdown = breakdown
    groups = breakdown["compressed"]
    note = (f"{breakdown['bytes']:,} vs {baseline:,} bytes: {breakdown['over_baseline']:+,} "
            f"(allowed {breakdown['allowed_over_baseline']:,}); vocab members {groups['vocab']:,} "
            f"({breakdown['vocab_at_level_9']:,} at level 9), code {groups['code']:,}, start-up files "
            f"{groups['startup']:,}, .dist-info {groups['dist_info']:,}, zip structure "
            f"{breakdown['zip_structure']:,} ({breakdown['entries']} entries)")
    return Figure("wheel_size", "wheel size", "MB", [breakdown["bytes"] / 1e6], [baseline / 1e6],
                  "both vocab files in a zip, deflate level 9", ratio_max=1.02, note=note)


def fig_wheel_build(s: Setup, runs: int) -> Figure:
    builds = s.work / "home" / "builds"
    subject_env = s.env(HARMONY_VOCAB_CACHE_DIR=str(s.build_cache), HARMONY_VOCAB_OFFLINE="1", PIP_NO_INDEX="1")
    baseline_env = s.env(PIP_NO_INDEX="1")

    def build(tree: Path, env: Mapping[str, str]) -> float:
        out = builds / "out"
        shutil.rmtree(out, ignore_errors=True)
        cmd = s.offline + [str(s.build_python), "-m", "build", "--wheel", "--no-isolation", "-o", str(out), str(tree)]
        t0 = time.perf_counter()
        run(cmd, env=env)
        seconds = time.perf_counter() - t0
        if len(list(out.glob("*.whl"))) != 1:
            raise SetupError(f"no wheel built from {tree}")
        return seconds

    def subject(_: int) -> float:  # a fresh clean checkout every time: no vocab in the data dir
        return build(copy_source_tree(s.source, builds / "tree"), subject_env)

    def baseline(_: int) -> float:
        tree = builds / "empty"
        shutil.rmtree(tree, ignore_errors=True)
        shutil.copytree(EMPTY_PROJECT, tree)
        return build(tree, baseline_env)

    subject_runs, baseline_runs = interleave(runs, subject, baseline, warmup=1 if runs > 1 else 0)
    shutil.rmtree(builds, ignore_errors=True)
    return Figure("wheel_build", "offline wheel build from a warm cache", "s", subject_runs, baseline_runs,
                  "python -m build --wheel of an empty hatchling project",
                  note="python -m build --wheel --no-isolation for both; HARMONY_VOCAB_CACHE_DIR holds "
                       "verified copies, no HARMONY_VOCAB_SOURCE_DIR, HARMONY_VOCAB_OFFLINE=1")


class Runs(NamedTuple):
    """Run counts from the command line: per figure, for start-up, for wheel builds."""

    default: int
    startup: int
    build: int


Measure = Callable[[Setup, int], Union[Figure, List[Figure]]]

# key (--only) -> (function, which run count it takes), in the order of the table.
PLAN: Dict[str, Tuple[Measure, str]] = {
    "startup": (fig_startup, "startup"),
    "import_many": (fig_import_many, "startup"),
    "import": (fig_import, "default"),
    "resolve_first": (fig_resolve_first, "default"),
    "resolve_repeat": (fig_resolve_repeat, "default"),
    "harmony_load": (fig_harmony, "default"),
    "tiktoken_encoding": (fig_tiktoken, "default"),
    "tiktoken_hook": (fig_tiktoken_hook, "default"),
    "model_dir": (fig_model_dir, "default"),
    "wheel_size": (fig_wheel_size, "default"),
    "wheel_build": (fig_wheel_build, "build"),
}


def measure(key: str, s: Setup, runs: Runs) -> List[Figure]:
    """The figure(s) of one PLAN key."""
    function, count = PLAN[key]
    result = function(s, getattr(runs, count))
    return result if isinstance(result, list) else [result]
