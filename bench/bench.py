#!/usr/bin/env python3
"""Benchmarks of harmony-vocab against baselines measured side by side in the same run.

    python bench/bench.py [--quick] [--json PATH] [--work DIR]

The script builds the core and companion wheels (or reuses the ones cached in its work folder for
the same sources), sets up the venvs it needs in the work folder (reused while they match),
measures every figure as a ratio against a baseline taken in the same run, with subject and
baseline runs interleaved, prints one table and writes the results as JSON. Costs the size of an
interpreter start are measured twice: wall time, and the CPU time accounted to the child process
(steadier on a busy machine).

Work folder: --work DIR, else for a full run ``$XDG_CACHE_HOME/harmony-vocab-bench`` (else
``~/.cache/harmony-vocab-bench``), kept for the next run. --quick without --work runs in a
temporary folder that is removed afterwards (nothing is left behind but the JSON, if --json names
a place outside it).

Venvs:
  venv-build-<python>      build, hatchling, requests: builds the wheels (no isolation: offline)
  venv-subject-<python>    the core wheel + openai-harmony==0.0.8 + tiktoken + certifi
  venv-baseline-<python>   the same packages at the same versions, without harmony-vocab
  venv-companion-<python>  the same, with both wheels (core and harmony-vocab-legacy)

The wheels are built (``pip wheel --no-build-isolation --no-deps . ./legacy``, offline, from the
vocab mirror) from the working tree (its source files: see sources.py), or with --rev from a git
revision exported with git archive, so that uncommitted edits stay out of a recorded run.

Files: harness.py (commands, timing, clean environments, no network), sources.py (what the wheels
are built from), environment.py (venvs, wheels, caches), stats.py (figures, interleaving, the
table), figures.py (one function per figure, PLAN), probes/ (the scripts measured processes run).

Only venv creation uses a package index. Every measured process runs with a clean environment
(no HARMONY_VOCAB_*, TIKTOKEN_*, HF_*, PYTHON* variables; HOME and TMPDIR inside the work folder)
and, where the platform allows it (root and ``unshare``), the loading figures in a network
namespace with no network.

Stdlib only, Python 3.9+.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set

sys.dont_write_bytecode = True  # no __pycache__ of bench/'s modules in the checkout

from environment import Setup, prepare  # noqa: E402
from figures import PLAN, Runs, measure  # noqa: E402
from harness import SetupError, VenvError, default_work_dir, exclusive, log, sha256_file  # noqa: E402
from sources import describe_source  # noqa: E402
from stats import Figure, table  # noqa: E402

SETUP_FAILED = 3
VENV_INSTALL_FAILED = 4  # pip cannot install the venvs' packages (no package index?)


def machine(python_version: str) -> Dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "nproc": nproc,
        "cpu": cpu,
        "python": python_version,  # of the venvs (the runner's may differ, with --python)
        "platform": platform.platform(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one run of everything (a smoke test), in a "
                                                             "temporary work folder unless --work is given")
    parser.add_argument("--work", type=Path, help=f"venvs, wheels and scratch (default: {default_work_dir()}; "
                                                  "quick: a temporary folder, removed afterwards)")
    parser.add_argument("--json", type=Path, help="where to write the results (default: WORK/results.json; "
                                                  "quick without --work: none)")
    parser.add_argument("--runs", type=int, help="runs per figure measured in fresh processes (default 11; quick: 1)")
    parser.add_argument("--startup-runs", type=int, help="runs of each start-up-sized process (python -c pass, "
                                                         "the CLI, the start-up import) (default 51; quick: 1)")
    parser.add_argument("--build-runs", type=int, help="wheel builds each (default 5; quick: 1)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter the venvs are made from")
    parser.add_argument("--vocab-mirror", help="directory holding the .tiktoken files the wheel is built from "
                                               "(default: $HARMONY_VOCAB_SOURCE_DIR, else ../shared/vocab)")
    parser.add_argument("--wheel", nargs=2, metavar=("CORE", "COMPANION"),
                        help="benchmark these wheels instead of building them")
    parser.add_argument("--rev", help="build from this git revision (exported with git archive) instead of "
                                      "the working tree, e.g. --rev HEAD when the tree has uncommitted edits")
    parser.add_argument("--only", help=f"comma-separated figure keys to measure (default: all of {', '.join(PLAN)})")
    parser.add_argument("--no-unshare", action="store_true", help="do not run measured processes in a "
                                                                  "network namespace with no network")
    args = parser.parse_args(argv)
    args.temporary = args.work is None and args.quick  # the folder is made by main, and removed
    if args.work is None and not args.temporary:
        args.work = default_work_dir()
    if args.work is not None:
        args.work = args.work.expanduser().resolve()
        if args.json is None:
            args.json = args.work / "results.json"
    args.runs = args.runs or (1 if args.quick else 11)
    args.startup_runs = args.startup_runs or (1 if args.quick else 51)
    args.build_runs = args.build_runs or (1 if args.quick else 5)
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    only = set(args.only.split(",")) if args.only else set(PLAN)
    unknown = only - set(PLAN)
    if unknown:
        print(f"unknown figure(s): {', '.join(sorted(unknown))}; known: {', '.join(PLAN)}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    if args.temporary:
        args.work = Path(tempfile.mkdtemp(prefix="harmony-vocab-bench-")).resolve()
        log(f"quick mode: work folder {args.work}, removed afterwards")
    try:
        return run_in(args, only, started)
    finally:
        if args.temporary:
            shutil.rmtree(args.work, ignore_errors=True)


def run_in(args: argparse.Namespace, only: Set[str], started: float) -> int:
    args.work.mkdir(parents=True, exist_ok=True)
    with exclusive(args.work / ".lock"):
        try:
            s = prepare(args)
        except VenvError as exc:
            print(f"bench: set-up failed: {exc}", file=sys.stderr)
            return VENV_INSTALL_FAILED
        except SetupError as exc:
            print(f"bench: set-up failed: {exc}", file=sys.stderr)
            return SETUP_FAILED
        return measure_and_report(args, s, only, started)


def measure_and_report(args: argparse.Namespace, s: Setup, only: Set[str], started: float) -> int:
    log(f"wheel {s.wheel.name} from {describe_source(s.source_info)}; "
        f"network isolation: {'unshare -n' if s.offline else 'none'}")
    log(f"modules imported at start-up by the .pth: {', '.join(s.startup_modules) or 'none'}")
    runs = Runs(default=args.runs, startup=args.startup_runs, build=args.build_runs)
    figures: List[Figure] = []
    for key in PLAN:
        if key not in only:
            continue
        log(f"measuring {key}")
        try:
            figures.extend(measure(key, s, runs))
        except SetupError as exc:
            print(f"bench: {key} failed: {exc}", file=sys.stderr)
            return 1

    info = machine(s.python_version)
    print(f"harmony-vocab benchmark ({'quick' if args.quick else 'full'} mode): {info['cpu']}, "
          f"{info['nproc']} CPUs, Python {info['python']}, {info['date']}")
    print(f"runs: {args.runs} per figure ({args.startup_runs} for start-up-sized costs, {args.build_runs} builds); "
          "subject and baseline interleaved; median (min..max); CPU = user + system time of the child")
    print(f"wheels: {s.wheel.name} ({s.wheel.stat().st_size:,} bytes), {s.legacy_wheel.name} "
          f"({s.legacy_wheel.stat().st_size:,} bytes), built from {describe_source(s.source_info)}")
    print(table(figures))
    results = {
        "mode": "quick" if args.quick else "full",
        "machine": info,
        "runs": {"default": args.runs, "startup": args.startup_runs, "build": args.build_runs},
        "wheel": {"name": s.wheel.name, "sha256": sha256_file(s.wheel), "bytes": s.wheel.stat().st_size},
        "legacy_wheel": {"name": s.legacy_wheel.name, "sha256": sha256_file(s.legacy_wheel),
                         "bytes": s.legacy_wheel.stat().st_size},
        "source": s.source_info,
        "startup_modules": s.startup_modules,
        "wheel_breakdown": s.wheel_breakdown,
        "network_isolation": "unshare -n" if s.offline else "none",
        "versions": s.versions,
        "elapsed_seconds": time.perf_counter() - started,
        "figures": [f.as_json() for f in figures],
    }
    if args.json is None:
        log(f"done in {results['elapsed_seconds']:.0f} s (no --json: results not written)")
        return 0
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    log(f"results written to {args.json} ({results['elapsed_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
