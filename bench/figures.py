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
import json
import math
import re
import shutil
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from environment import EMPTY_PROJECT, O200K, ONE_LINE_MODULE, VOCAB_FILES, Setup
from harness import SetupError, Timed, probe, run, timed
from sources import copy_source_tree
from stats import Figure, interleave

STARTUP_MODULE = "_harmony_vocab_startup"
# What the console script pip writes does before it calls main() (pip's vendored distlib template).
LAUNCHER = "import re, sys; sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])"


def wall_and_cpu(key: str, title: str, runs: Sequence[List[Timed]], baseline_title: str, ratio_max: Optional[float],
                 note: str = "", allowance: Sequence[List[Timed]] = ()) -> List[Figure]:
    """Two figures of whole-process runs (subject, baseline): wall time, and the CPU time the
    kernel accounted to the child. `allowance` holds the runs of a cost the subject is allowed on
    top (see `Figure.allowance`)."""
    subject, baseline = runs
    extra = list(allowance[0]) if allowance else []
    return [
        Figure(key, title + ", wall", "ms", [t.wall * 1e3 for t in subject], [t.wall * 1e3 for t in baseline],
               baseline_title, ratio_max=ratio_max, note=note, allowance=[t.wall * 1e3 for t in extra]),
        Figure(key + "_cpu", title + ", CPU", "ms", [t.cpu * 1e3 for t in subject], [t.cpu * 1e3 for t in baseline],
               baseline_title, ratio_max=ratio_max, note=note, allowance=[t.cpu * 1e3 for t in extra]),
    ]


def process(cmd: Sequence[Any], env: Mapping[str, str]) -> Callable[[int], Timed]:
    """A whole process, run and timed each call (no network namespace: its own set-up would count)."""
    return lambda _: timed(cmd, env)


def fig_startup(s: Setup, runs: int) -> List[Figure]:
    """The whole start-up: the .pth's opt-out check, registration and tiktoken hook included."""
    env = s.env()
    results = interleave(runs, process([s.subject_python, "-c", "pass"], env),
                         process([s.baseline_python, "-c", "pass"], env), warmup=max(1, min(5, runs)))
    return wall_and_cpu("startup", "interpreter start (python -c pass), registration + tiktoken hook",
                        results, "same venv without harmony-vocab", ratio_max=1.02)


def fig_startup_floor(s: Setup, runs: int) -> List[Figure]:
    """What any ``.pth`` file that imports a module costs (report): venv-baseline plus one ``.pth``
    importing a one-line module, against venv-baseline. The start-up figure's target is judged by it."""
    env = s.env()
    results = interleave(runs, process([s.floor_python, "-c", "pass"], env),
                         process([s.baseline_python, "-c", "pass"], env), warmup=max(1, min(5, runs)))
    return wall_and_cpu("startup_floor", "floor: interpreter start with a .pth importing a one-line module",
                        results, "same venv without that .pth", ratio_max=None)


def fig_companion_startup(s: Setup, runs: int) -> List[Figure]:
    """The core's start-up with the companion installed beside it, against the core alone."""
    env = s.env()
    results = interleave(runs, process([s.companion_python, "-c", "pass"], env),
                         process([s.subject_python, "-c", "pass"], env), warmup=max(1, min(5, runs)))
    return wall_and_cpu("companion_startup", "interpreter start with the companion installed too", results,
                        "same venv without the companion (core only)", ratio_max=1.01)


IMPORTTIME = re.compile(r"^import time:\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\S+)\s*$")


def fig_startup_import(s: Setup, runs: int) -> List[Figure]:
    """Importing the start-up module under ``-X importtime`` (its cumulative time), and the CPU
    time around that import, against a one-line module beside it imported the same way. The
    .pth is switched off (HARMONY_VOCAB_AUTOREGISTER=0) so that the import is the probe's."""
    env = s.env(HARMONY_VOCAB_AUTOREGISTER="0")

    def importing(module: str) -> Callable[[int], Tuple[float, float]]:
        def measure(_: int) -> Tuple[float, float]:
            proc = run([s.subject_python, "-X", "importtime", probe("import_time.py"), module], env=env)
            lines = [m for m in map(IMPORTTIME.match, proc.stderr.splitlines()) if m and m.group(3) == module]
            if len(lines) != 1:
                raise SetupError(f"-X importtime reported {len(lines)} imports of {module}:\n{proc.stderr[-2000:]}")
            cpu = float(json.loads(proc.stdout.strip().splitlines()[-1])["cpu"])
            return int(lines[0].group(2)) / 1e3, cpu * 1e3
        return measure

    subject, baseline = interleave(runs, importing(STARTUP_MODULE), importing(ONE_LINE_MODULE), warmup=2)
    title = f"import {STARTUP_MODULE} (.pth off)"
    base = f"a one-line module ({ONE_LINE_MODULE}) beside it, imported the same way"
    return [
        Figure("startup_import", title + ", wall (-X importtime, cumulative)", "ms", [w for w, _ in subject],
               [w for w, _ in baseline], base, ratio_max=1.5),
        Figure("startup_import_cpu", title + ", CPU (around the import)", "ms", [c for _, c in subject],
               [c for _, c in baseline], base, ratio_max=1.5),
    ]


def fig_cli(s: Setup, runs: int) -> List[Figure]:
    """The console script, whole process, against a bare interpreter (venv-baseline's
    ``python -c pass``); `resolve` and `verify` are allowed the hashing they do on top, measured
    by probes/hash_file.py over the same files."""
    env = s.env()
    cli = s.script(s.subject_python, "harmony-vocab")
    bare = process([s.baseline_python, "-c", "pass"], env)
    o200k = str(s.data_dir / O200K)

    def command(*args: str, expect: str = "") -> Callable[[int], Timed]:
        def measure(_: int) -> Timed:
            result = timed([cli, *args], env)
            if expect not in result.stdout:
                raise SetupError(f"harmony-vocab {' '.join(args)} printed {result.stdout!r}, not {expect!r}")
            return result
        return measure

    def hashing(*paths: Path) -> Callable[[int], Timed]:
        """The hashing alone, timed inside the probe (wall and CPU), as a Timed."""
        def measure(_: int) -> Timed:
            out = run([s.baseline_python, probe("hash_file.py"), *paths], env=env).stdout
            result = json.loads(out.strip().splitlines()[-1])
            return Timed(float(result["seconds"]), float(result["cpu"]), out, "")
        return measure

    warmup = max(1, min(3, runs))
    launcher = interleave(runs, process([s.baseline_python, "-c", LAUNCHER], env), bare, warmup=warmup)
    path_runs = interleave(runs, command("path", "o200k_base", expect=o200k), bare, warmup=warmup)
    resolve = interleave(runs, command("resolve", "o200k_base", expect=o200k), bare,
                         hashing(s.data_dir / O200K), warmup=warmup)
    verify = interleave(runs, command("verify", expect="ok"), bare,
                        hashing(*(s.data_dir / name for name in VOCAB_FILES)), warmup=warmup)
    base = "python -c pass, no harmony-vocab"
    return [
        *wall_and_cpu("cli_launcher", "floor: pip's console-script launcher alone (import re, re.sub)", launcher,
                      base, ratio_max=None, note="what pip's generated harmony-vocab script runs before main()"),
        *wall_and_cpu("cli_path", "harmony-vocab path o200k_base", path_runs, base, ratio_max=2.0),
        *wall_and_cpu("cli_resolve", "harmony-vocab resolve o200k_base", resolve[:2],
                      base + "; allowance: sha256 of o200k_base", ratio_max=2.0, allowance=resolve[2:],
                      note="ratio = (command - hashing) / bare; the hashing: probes/hash_file.py, in-process"),
        *wall_and_cpu("cli_verify", "harmony-vocab verify (every installed vocab)", verify[:2],
                      base + "; allowance: sha256 of o200k_base + cl100k_base", ratio_max=2.0,
                      allowance=verify[2:],
                      note="ratio = (command - hashing) / bare; the hashing: probes/hash_file.py, in-process"),
    ]


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
    (subject,) = interleave(runs, lambda _: s.child(s.subject_python, "resolve_repeat.py", [2000], env) * 1e6)
    return Figure("resolve_repeat", 'resolve("o200k_base"), repeated in the same process', "us", subject,
                  value_max=50.0, note="mean of 2000 calls after the first, per process")


def load_figure(s: Setup, runs: int, key: str, subject: Tuple[Path, str, Mapping[str, str]],
                baseline: Tuple[Path, str, Mapping[str, str]], argument: str, title: str, baseline_title: str,
                ratio_max: float = 1.05) -> Figure:
    """probes/load_encoding.py: (python, call, env) of the subject against the baseline's, each
    loading `argument` (empty: the call's default); both must encode "hello world" to 2 tokens."""
    args = [argument] if argument else []

    def loading(python: Path, call: str, env: Mapping[str, str]) -> Callable[[int], float]:
        return lambda _: s.child(python, "load_encoding.py", [call, *args], env, {"tokens": 2}) * 1e3

    subject_runs, baseline_runs = interleave(runs, loading(*subject), loading(*baseline), warmup=1)
    return Figure(key, title, "ms", subject_runs, baseline_runs, baseline_title, ratio_max=ratio_max)


def fig_harmony(s: Setup, runs: int) -> Figure:
    return load_figure(s, runs, "harmony_load",
                       (s.subject_python, "harmony_vocab.openai_harmony.load_harmony_encoding", s.env()),
                       (s.baseline_python, "openai_harmony.load_harmony_encoding",
                        s.env(TIKTOKEN_ENCODINGS_BASE=str(s.data_dir))), "",
                       'harmony_vocab.openai_harmony.load_harmony_encoding("HarmonyGptOss")',
                       "openai_harmony.load_harmony_encoding, TIKTOKEN_ENCODINGS_BASE set by hand")


def fig_tiktoken(s: Setup, runs: int) -> Figure:
    env = s.env(TIKTOKEN_CACHE_DIR=str(s.tiktoken_cache))
    return load_figure(s, runs, "tiktoken_encoding",
                       (s.subject_python, "harmony_vocab.tiktoken.tiktoken_encoding", env),
                       (s.baseline_python, "tiktoken.get_encoding", env), "o200k_base",
                       'harmony_vocab.tiktoken.tiktoken_encoding("o200k_base")',
                       'tiktoken.get_encoding("o200k_base"), warm tiktoken cache, no harmony-vocab')


def hook_figure(s: Setup, runs: int, key: str, python: Path, name: str, where: str) -> Figure:
    """Unmodified tiktoken.get_encoding(`name`) served by the start-up hook (tiktoken's cache
    empty, no network) against tiktoken reading the same files from a warm cache of its own, in
    venv-baseline (no harmony-vocab)."""
    empty = s.work / "home" / f"empty-tiktoken-cache-{key}"
    empty.mkdir(parents=True, exist_ok=True)
    return load_figure(s, runs, key, (python, "tiktoken.get_encoding", s.env(TIKTOKEN_CACHE_DIR=str(empty))),
                       (s.baseline_python, "tiktoken.get_encoding", s.env(TIKTOKEN_CACHE_DIR=str(s.tiktoken_cache))),
                       name, f'unmodified tiktoken.get_encoding("{name}") through the hook, offline ({where})',
                       f'tiktoken.get_encoding("{name}"), warm tiktoken cache, no harmony-vocab', ratio_max=1.0)


def fig_tiktoken_hook(s: Setup, runs: int) -> List[Figure]:
    return [
        hook_figure(s, runs, "tiktoken_hook", s.subject_python, "o200k_base", "core"),
        hook_figure(s, runs, "tiktoken_hook_gpt2", s.companion_python, "gpt2", "core + companion"),
        hook_figure(s, runs, "tiktoken_hook_r50k", s.companion_python, "r50k_base", "core + companion"),
    ]


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


def vocab_zip(files: Sequence[Path]) -> bytes:
    """The wheel-size baseline: the vocab files in a zip, deflated at zlib level 9."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in files:
            zf.write(path, path.name)
    return buffer.getvalue()


def zlib_deflate(data: bytes, level: int) -> bytes:
    """Raw deflate (what a zip member holds) of `data` at `level`."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def wheel_breakdown(wheel: Path, baseline_bytes: int) -> Dict[str, Any]:
    """Where the wheel's bytes go, against the baseline zip: the compressed size of every member
    (grouped as vocab / package code / start-up files / .dist-info), what recompressing the vocab
    members at level 9 would give, and the zip structure (local headers, central directory)."""
    groups: Dict[str, int] = {"vocab": 0, "code": 0, "startup": 0, "dist_info": 0}
    members: List[Dict[str, Any]] = []
    vocab_at_9 = 0
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            name = info.filename
            if "/data/" in name and ".dist-info/" not in name:
                group = "vocab"
                vocab_at_9 += len(zlib_deflate(zf.read(info), 9))
            elif ".dist-info/" in name:
                group = "dist_info"
            elif "/" not in name:
                group = "startup"  # harmony_vocab.pth, harmony_vocab.start, _harmony_vocab_startup.py
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


def size_figure(key: str, title: str, wheel: Path, files: Sequence[Path],
                baseline_title: str) -> Tuple[Figure, Dict[str, Any]]:
    baseline = len(vocab_zip(files))
    breakdown = wheel_breakdown(wheel, baseline)
    groups = breakdown["compressed"]
    note = (f"{breakdown['bytes']:,} vs {baseline:,} bytes: {breakdown['over_baseline']:+,} "
            f"(allowed {breakdown['allowed_over_baseline']:,}); vocab members {groups['vocab']:,} "
            f"({breakdown['vocab_at_level_9']:,} at level 9), code {groups['code']:,}, start-up files "
            f"{groups['startup']:,}, .dist-info {groups['dist_info']:,}, zip structure "
            f"{breakdown['zip_structure']:,} ({breakdown['entries']} entries)")
    figure = Figure(key, title, "MB", [breakdown["bytes"] / 1e6], [baseline / 1e6], baseline_title,
                    ratio_max=1.02, note=note)
    return figure, breakdown


def fig_wheel_size(s: Setup, runs: int) -> List[Figure]:
    core, core_breakdown = size_figure("wheel_size", "wheel size (core)", s.wheel,
                                       [s.data_dir / name for name in VOCAB_FILES],
                                       "both vocab files in a zip, deflated at zlib level 9")
    legacy_files = [s.legacy_data_dir / f["name"] for name, pin in s.pins.items() if pin["wheel"] == "legacy"
                    for f in pin["files"]]
    legacy, legacy_breakdown = size_figure("companion_wheel_size", "companion wheel size (harmony-vocab-legacy)",
                                           s.legacy_wheel, legacy_files,
                                           f"its {len(legacy_files)} files in a zip, deflated at zlib level 9")
    s.wheel_breakdown = {"core": core_breakdown, "legacy": legacy_breakdown}
    return [core, legacy]


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
    "startup_import": (fig_startup_import, "startup"),
    "startup": (fig_startup, "startup"),
    "startup_floor": (fig_startup_floor, "startup"),
    "companion_startup": (fig_companion_startup, "startup"),
    "import_many": (fig_import_many, "default"),
    "cli": (fig_cli, "startup"),
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
