#!/usr/bin/env python3
"""Benchmarks of harmony-vocab against the baselines of issue 5, measured side by side.

    python bench/bench.py [--quick] [--json PATH]

The script builds the wheel (or reuses the one cached under bench/.work/ for the same sources),
sets up the venvs it needs under bench/.work/ (reused while they match), measures every figure as
a ratio against a baseline taken in the same run, with subject and baseline runs interleaved,
prints one table and writes the results as JSON (default bench/results.json).

Venvs:
  venv-build-<python>     build, hatchling, requests: builds the wheels (``--no-isolation``: offline)
  venv-subject-<python>   the wheel + openai-harmony==0.0.8 + tiktoken + certifi
  venv-baseline-<python>  the same packages at the same versions, without harmony-vocab

The wheel is built from the working tree (its source files: see source_files), or with --rev from
a git revision exported with git archive, so that uncommitted edits stay out of a recorded run.

Only venv creation uses a package index. Every measured process runs with a clean environment
(no HARMONY_VOCAB_*, TIKTOKEN_*, HF_*, PYTHON* variables; HOME and TMPDIR inside bench/.work/)
and, where the platform allows it (root and ``unshare``), in a network namespace with no network.

Stdlib only, Python 3.9+.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fnmatch
import hashlib
import io
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import textwrap
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
)

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
DEFAULT_WORK = BENCH / ".work"
DEFAULT_JSON = BENCH / "results.json"

VOCAB_FILES = ("o200k_base.tiktoken", "cl100k_base.tiktoken")
O200K = "o200k_base.tiktoken"
O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"

RUNTIME_REQUIREMENTS = ["openai-harmony==0.0.8", "tiktoken", "certifi"]
BUILD_REQUIREMENTS = ["build>=1.0", "hatchling>=1.21", "requests>=2.28"]
if sys.version_info < (3, 11):
    BUILD_REQUIREMENTS.append("tomli>=1.1")

# What a wheel is built from (a clean checkout needs no more); its hash keys the cached wheel.
SOURCE_ITEMS = ("pyproject.toml", "hatch_build.py", "vocab_manifest.toml", "README.md", "LICENSE", "src")
SOURCE_IGNORE = ("*.tiktoken", "*.part", "__pycache__", "*.pyc", "*.egg-info", ".*")

# Variables that steer harmony-vocab, openai-harmony, tiktoken, Hugging Face or Python itself:
# never inherited by a measured process.
STEERING_PREFIXES = ("HARMONY_VOCAB_", "TIKTOKEN_", "DATA_GYM_", "HF_", "XDG_CACHE_HOME", "PYTHON",
                     "VIRTUAL_ENV", "SETUPTOOLS_USE_DISTUTILS")


# ------------------------------------------------------------------------------------ utilities

class SetupError(Exception):
    """The benchmark cannot set itself up (no vocab mirror, a wheel that does not build...)."""


class VenvError(SetupError):
    """A venv's packages cannot be installed (no package index reachable?)."""


@contextlib.contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock` (POSIX): two runs never share bench/.work/ at once."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking
        yield
        return
    with open(lock, "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            log(f"waiting for another run to release {lock}")
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def run(cmd: Sequence[Any], env: Optional[Mapping[str, str]] = None, cwd: Optional[Path] = None,
        timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run a command and capture its text output; raise SetupError with the output if it fails."""
    args = [str(c) for c in cmd]
    proc = subprocess.run(args, env=dict(env) if env is not None else None, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise SetupError(f"command failed ({proc.returncode}): {' '.join(args)}\n"
                         f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}")
    return proc


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def url_cache_name(url: str) -> str:
    """The name tiktoken and openai-harmony give a download in their caches."""
    return hashlib.sha1(url.encode()).hexdigest()


def network_isolation() -> List[str]:
    """A command prefix that runs a command with no network (a new network namespace with only
    loopback up), or [] where that is not possible (not root, no ``unshare``)."""
    if os.name != "posix" or not shutil.which("unshare") or not shutil.which("ip"):
        return []
    prefix = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh"]
    try:
        ok = subprocess.run(prefix + ["true"], capture_output=True, timeout=30, check=False).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return prefix if ok else []


def clean_env(home: Path, **extra: str) -> Dict[str, str]:
    """os.environ without steering variables, HOME and TMPDIR inside `home`, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(STEERING_PREFIXES)}
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), TMPDIR=str(home / "tmp"))
    env.update(extra)
    return env


def source_files(root: Path) -> List[Path]:
    """The files a wheel is built from, as a clean checkout under `root` has them (no built vocab
    files, no caches): pyproject.toml, hatch_build.py, vocab_manifest.toml (the pins), README.md,
    LICENSE and everything under src/ (the package, ``harmony_vocab.pth`` and the top-level
    ``_harmony_vocab_startup.py`` that the wheel force-includes). Both the cache key of the wheel
    and the tree it is built from come from this list."""
    files: List[Path] = []
    for item in SOURCE_ITEMS:
        base = root / item
        for path in sorted(base.rglob("*")) if base.is_dir() else [base]:
            rel = path.relative_to(root)
            if not path.is_file() or any(
                    fnmatch.fnmatch(part, pattern) for part in rel.parts for pattern in SOURCE_IGNORE):
                continue
            files.append(path)
    return files


def copy_source_tree(root: Path, dest: Path) -> Path:
    """A copy of `root`'s `source_files` in `dest` (replaced): what a clean checkout holds."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for path in source_files(root):
        target = dest / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return dest


def source_key(root: Path) -> str:
    """A hash of `root`'s `source_files` (paths and contents): a cached wheel is reused while it
    matches."""
    digest = hashlib.sha256()
    for path in source_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def git(*args: str) -> str:
    out: str = run(["git", "-C", ROOT, *args]).stdout
    return out.strip()


def export_revision(rev: str, work: Path) -> Tuple[Path, Dict[str, Any]]:
    """The source files of git revision `rev`, exported under `work` (not the working tree, which
    may hold uncommitted edits): ``(root, description)``."""
    commit = git("rev-parse", "--verify", rev + "^{commit}")
    dest = work / "sources" / commit[:12]
    if not (dest / ".complete").exists():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        listed = git("ls-tree", "--name-only", commit).splitlines()
        items = [item for item in SOURCE_ITEMS if item in listed]
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit, "--", *items],
                                 capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter="data")
            else:  # our own repository's archive
                tar.extractall(dest)
        (dest / ".complete").write_text(commit + "\n")
    return dest, {"rev": rev, "commit": commit, "dirty": False}


def describe_working_tree() -> Dict[str, Any]:
    """The commit the working tree is at, and whether its source files differ from it."""
    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--", *SOURCE_ITEMS))
    except (SetupError, OSError):
        return {"rev": None, "commit": None, "dirty": None}
    return {"rev": "working tree", "commit": commit, "dirty": dirty}


# ----------------------------------------------------------------------------------- statistics

@dataclass
class Figure:
    """One row of the table: subject runs, baseline runs (same unit), and the target."""

    key: str
    title: str
    unit: str
    subject: List[float]
    baseline: List[float] = field(default_factory=list)
    baseline_title: str = "-"
    ratio_max: Optional[float] = None
    value_max: Optional[float] = None
    note: str = ""

    @property
    def ratio(self) -> Optional[float]:
        if not self.baseline or not self.subject:
            return None
        base = statistics.median(self.baseline)
        return statistics.median(self.subject) / base if base else None

    @property
    def target(self) -> str:
        parts = []
        if self.value_max is not None:
            parts.append(f"<= {fmt(self.value_max)} {self.unit}")
        if self.ratio_max is not None:
            parts.append(f"ratio <= {self.ratio_max}")
        return ", ".join(parts) or "report"

    @property
    def met(self) -> Optional[bool]:
        if self.value_max is None and self.ratio_max is None:
            return None
        ok = True
        if self.value_max is not None:
            ok = ok and statistics.median(self.subject) <= self.value_max
        if self.ratio_max is not None:
            ratio = self.ratio
            ok = ok and ratio is not None and ratio <= self.ratio_max
        return ok

    def as_json(self) -> Dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "unit": self.unit,
            "subject": summary(self.subject),
            "baseline": summary(self.baseline) if self.baseline else None,
            "baseline_title": self.baseline_title,
            "ratio": self.ratio,
            "target": {"text": self.target, "ratio_max": self.ratio_max, "value_max": self.value_max},
            "met": self.met,
            "note": self.note,
        }


def summary(values: List[float]) -> Dict[str, Any]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": len(values), "values": values}


def fmt(x: float) -> str:
    """Three significant digits, never in scientific notation."""
    if x == 0 or not math.isfinite(x):
        return str(x)
    decimals = max(0, 2 - math.floor(math.log10(abs(x))))
    return f"{x:.{decimals}f}"


def cell(values: List[float], unit: str) -> str:
    if not values:
        return "-"
    text = f"{fmt(statistics.median(values))} {unit}"
    if len(values) > 1:
        text += f" ({fmt(min(values))}..{fmt(max(values))})"
    return text


def interleave(runs: int, subject: Callable[[int], float],
               baseline: Optional[Callable[[int], float]] = None,
               warmup: int = 0) -> Tuple[List[float], List[float]]:
    """Run subject and baseline alternately (ABBA order, so that drift and order effects cancel);
    `warmup` untimed rounds first. Each callable gets the run index and returns one measurement."""
    for i in range(warmup):
        subject(-1 - i)
        if baseline is not None:
            baseline(-1 - i)
    subjects: List[float] = []
    baselines: List[float] = []
    for i in range(runs):
        order: List[Tuple[List[float], Callable[[int], float]]] = [(subjects, subject)]
        if baseline is not None:
            order.append((baselines, baseline))
            if i % 2:
                order.reverse()
        for out, measure in order:
            out.append(measure(i))
    return subjects, baselines


# ------------------------------------------------------------------------------------- set-up

@dataclass
class Setup:
    """Everything the figures need: interpreters, paths, environments."""

    work: Path
    source: Path  # the tree the wheel is built from (the repository, or an exported revision)
    source_info: Dict[str, Any]
    startup_modules: List[str]  # modules the subject's start-up imports that the baseline's does not
    build_python: Path
    subject_python: Path
    baseline_python: Path
    wheel: Path
    data_dir: Path  # the vocab files as installed from the wheel, in venv-subject
    tiktoken_cache: Path
    model_dir: Path
    build_cache: Path
    empty_project: Path
    offline: List[str]
    versions: Dict[str, str]
    python_version: str
    wheel_breakdown: Optional[Dict[str, Any]] = None  # filled in by fig_wheel_size

    def env(self, **extra: str) -> Dict[str, str]:
        return clean_env(self.work / "home", **extra)


def find_vocab_mirror(explicit: Optional[str]) -> Path:
    """Where the build takes the vocab files from: --vocab-mirror, HARMONY_VOCAB_SOURCE_DIR,
    ../shared/vocab, or the files already built into src/harmony_vocab/data/."""
    candidates = [explicit, os.environ.get("HARMONY_VOCAB_SOURCE_DIR"),
                  str(ROOT.parent / "shared" / "vocab"), str(ROOT / "src" / "harmony_vocab" / "data")]
    for candidate in candidates:
        if candidate and all((Path(candidate) / name).is_file() for name in VOCAB_FILES):
            return Path(candidate)
    raise SetupError("no directory holding o200k_base.tiktoken and cl100k_base.tiktoken: pass "
                     "--vocab-mirror DIR or set HARMONY_VOCAB_SOURCE_DIR")


def python_identity(python: str) -> str:
    out: str = run([python, "-c", "import sys, os; print(os.path.realpath(sys.executable), sys.version)"]).stdout
    return out.strip()


def python_tag(python: str) -> str:
    """e.g. ``cpython311``: venvs are kept per interpreter, so runs on several Pythons coexist."""
    code = "import sys; print(sys.implementation.name + '%d%d' % sys.version_info[:2])"
    out: str = run([python, "-c", code]).stdout
    return out.strip()


def ensure_venv(path: Path, python: str, requirements: List[str], extra: Optional[Dict[str, str]] = None) -> Path:
    """A venv at `path` with `requirements` installed; reused while its recorded spec matches."""
    marker = path / "bench-venv.json"
    want = {"python": python_identity(python), "requirements": requirements, **(extra or {})}
    try:
        if json.loads(marker.read_text()) == want and venv_python(path).exists():
            return venv_python(path)
    except (OSError, ValueError):
        pass
    log(f"creating {path.name} ({', '.join(requirements)})")
    if path.exists():
        shutil.rmtree(path)
    run([python, "-m", "venv", path])
    try:
        run([venv_python(path), "-m", "pip", "install", "-q", *requirements])
    except SetupError as exc:
        raise VenvError(f"cannot install {' '.join(requirements)} into {path}: {exc}") from None
    marker.write_text(json.dumps(want, indent=1))
    return venv_python(path)


def ensure_wheel(work: Path, source: Path, build_python: Path, mirror: Path, offline: List[str]) -> Path:
    """The wheel of the sources under `source`, built offline from the mirror, or the cached one."""
    out = work / "wheels" / source_key(source)
    wheels = sorted(out.glob("harmony_vocab-*.whl"))
    if wheels:
        return wheels[-1]
    log(f"building the wheel from {mirror}")
    tree = copy_source_tree(source, work / "wheel-tree")
    home = work / "home-build"
    env = clean_env(home, HARMONY_VOCAB_SOURCE_DIR=str(mirror), HARMONY_VOCAB_OFFLINE="1",
                    HARMONY_VOCAB_CACHE_DIR=str(home / "empty-cache"), PIP_NO_INDEX="1")
    staging = work / "wheels" / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    run(offline + [str(build_python), "-m", "build", "--wheel", "--no-isolation", "-o", str(staging), str(tree)],
        env=env)
    (wheel,) = staging.glob("harmony_vocab-*.whl")
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(out)
    shutil.rmtree(tree)
    stale = sorted((d for d in out.parent.iterdir() if d.is_dir() and d != out), key=lambda d: d.stat().st_mtime)
    for old in stale[:-2]:  # keep the two most recent other builds
        shutil.rmtree(old, ignore_errors=True)
    return out / wheel.name


def ensure_subject_and_baseline(work: Path, python: str, wheel: Path) -> Tuple[Path, Path, Dict[str, str]]:
    """venv-subject (wheel + runtime requirements) and venv-baseline (the same versions, no wheel)."""
    tag = python_tag(python)
    subject_dir = work / f"venv-subject-{tag}"
    subject = ensure_venv(subject_dir, python, RUNTIME_REQUIREMENTS)
    marker = subject_dir / "bench-wheel.json"
    wheel_hash = sha256_file(wheel)
    try:
        installed = json.loads(marker.read_text()).get("sha256")
    except (OSError, ValueError):
        installed = None
    if installed != wheel_hash:
        log(f"installing {wheel.name} into venv-subject")
        run([subject, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", wheel])
        marker.write_text(json.dumps({"wheel": str(wheel), "sha256": wheel_hash}))
    frozen = run([subject, "-m", "pip", "list", "--format=freeze"]).stdout.split()
    pinned = sorted(line for line in frozen if not line.lower().startswith(("harmony-vocab==", "harmony_vocab==",
                                                                            "pip==", "setuptools==")))
    baseline = ensure_venv(work / f"venv-baseline-{tag}", python, RUNTIME_REQUIREMENTS,
                           extra={"pinned": " ".join(pinned)})
    missing = set(pinned) - set(run([baseline, "-m", "pip", "list", "--format=freeze"]).stdout.split())
    if missing:  # the baseline was made from the requirements; align it with the subject's versions
        log(f"aligning venv-baseline with venv-subject: {' '.join(sorted(missing))}")
        try:
            run([baseline, "-m", "pip", "install", "-q", *sorted(missing)])
        except SetupError as exc:
            raise VenvError(f"cannot align venv-baseline: {exc}") from None
    versions = dict(line.split("==", 1) for line in frozen if "==" in line)
    return subject, baseline, versions


def prepare(args: argparse.Namespace) -> Setup:
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    offline = [] if args.no_unshare else network_isolation()
    python = args.python
    build_python = ensure_venv(work / f"venv-build-{python_tag(python)}", python, BUILD_REQUIREMENTS)
    if args.rev:
        source, source_info = export_revision(args.rev, work)
    else:
        source, source_info = ROOT, describe_working_tree()
    if args.wheel:
        wheel = Path(args.wheel).resolve()
        source_info = {**source_info, "wheel": "given with --wheel"}
    else:
        wheel = ensure_wheel(work, source, build_python, find_vocab_mirror(args.vocab_mirror), offline)
    subject, baseline, versions = ensure_subject_and_baseline(work, python, wheel)
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)  # no cache left over from an earlier run
    env = clean_env(home)

    info = json.loads(run([subject, "-c", textwrap.dedent("""
        import json, os, platform, harmony_vocab.bundled as b
        print(json.dumps({"data": str(b.bundled_dir()), "python": platform.python_version(),
                          "registered": os.environ.get("HARMONY_VOCAB_REGISTERED")}))
        """)], env=env).stdout)
    data_dir = Path(info["data"])
    if not info["registered"]:
        raise SetupError("venv-subject does not register at start-up (HARMONY_VOCAB_REGISTERED unset): "
                         "is harmony_vocab.pth in the wheel?")
    probe = "import os; print(os.environ.get('HARMONY_VOCAB_REGISTERED', ''))"
    if run([baseline, "-c", probe], env=env).stdout.strip():
        raise SetupError("venv-baseline registers harmony-vocab: it must not have the package")
    modules = "import json, sys; print(json.dumps(sorted(sys.modules)))"
    startup_modules = sorted(set(json.loads(run([subject, "-c", modules], env=env).stdout))
                             - set(json.loads(run([baseline, "-c", modules], env=env).stdout)))

    # tiktoken's cache, warm: the files named by the sha1 of their canonical URL.
    tiktoken_cache = work / "tiktoken-cache"
    tiktoken_cache.mkdir(exist_ok=True)
    for name, url in ((O200K, O200K_URL), ("cl100k_base.tiktoken", CL100K_URL)):
        target = tiktoken_cache / url_cache_name(url)
        if not target.exists() or target.stat().st_size != (data_dir / name).stat().st_size:
            shutil.copyfile(data_dir / name, target)

    # A model directory holding only the o200k tokenizer.json, made with to_tokenizer_json.
    model_dir = work / "model-tokenizer-json"
    tokenizer = model_dir / "tokenizer.json"
    stamp = model_dir / "made-from.sha256"
    vocab_hash = sha256_file(data_dir / O200K)
    if not tokenizer.exists() or not stamp.exists() or stamp.read_text() != vocab_hash:
        log("writing the o200k tokenizer.json")
        shutil.rmtree(model_dir, ignore_errors=True)
        model_dir.mkdir()
        run([subject, "-c", textwrap.dedent(f"""
            import json
            from harmony_vocab.tokenizer_json import to_tokenizer_json
            with open({str(data_dir / O200K)!r}, "rb") as f:
                data = to_tokenizer_json(f.read())
            with open({str(tokenizer)!r}, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False)
            """)], env=env)
        stamp.write_text(vocab_hash)

    # Our download cache, warm: verified copies under their file names (what the build hook reads).
    build_cache = work / "build-cache"
    build_cache.mkdir(exist_ok=True)
    for name in VOCAB_FILES:
        if not (build_cache / name).exists() or sha256_file(build_cache / name) != sha256_file(data_dir / name):
            shutil.copyfile(data_dir / name, build_cache / name)

    # The build baseline: an empty hatchling project.
    empty = work / "empty-project"
    if not (empty / "pyproject.toml").exists():
        (empty / "src" / "empty_project").mkdir(parents=True)
        (empty / "src" / "empty_project" / "__init__.py").write_text("")
        (empty / "pyproject.toml").write_text(textwrap.dedent("""
            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"

            [project]
            name = "empty-project"
            version = "0.0.0"

            [tool.hatch.build.targets.wheel]
            packages = ["src/empty_project"]
            """).lstrip())

    return Setup(work=work, source=source, source_info=source_info, startup_modules=startup_modules,
                 build_python=build_python, subject_python=subject, baseline_python=baseline,
                 wheel=wheel, data_dir=data_dir, tiktoken_cache=tiktoken_cache, model_dir=model_dir,
                 build_cache=build_cache, empty_project=empty, offline=offline, versions=versions,
                 python_version=info["python"])


# ------------------------------------------------------------------------------------- figures

def timed_child(s: Setup, python: Path, code: str, env: Mapping[str, str]) -> Dict[str, Any]:
    """Run `code` in a fresh interpreter (no network); it prints one JSON object as its last line,
    holding at least "seconds": the time it measured around the call under test."""
    proc = run(s.offline + [str(python), "-c", textwrap.dedent(code)], env=env)
    result: Dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def child_seconds(s: Setup, python: Path, code: str, env: Mapping[str, str],
                  expect: Optional[Dict[str, Any]] = None) -> float:
    result = timed_child(s, python, code, env)
    for key, value in (expect or {}).items():
        if result.get(key) != value:
            raise SetupError(f"unexpected {key}={result.get(key)!r} (expected {value!r}) from:\n{code}")
    return float(result["seconds"])


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
    return Figure("startup", "interpreter start (python -c pass), registering", "ms", subject, baseline,
                  "same venv without harmony-vocab", ratio_max=1.03)


IMPORT_CODE = """
    import json, sys, time
    preloaded = [m for m in sys.modules if m == {module!r} or m.startswith({module!r} + ".")]
    for name in preloaded:
        del sys.modules[name]  # imported at start-up (a .pth): import it afresh all the same
    t0 = time.perf_counter()
    import {module}
    t1 = time.perf_counter()
    print(json.dumps({{"seconds": t1 - t0, "preloaded": preloaded}}))
"""


def fig_import(s: Setup, runs: int) -> Figure:
    env = s.env()

    def importing(module: str) -> Callable[[int], float]:
        code = IMPORT_CODE.format(module=module)
        return lambda _: child_seconds(s, s.subject_python, code, env) * 1e3

    subject, baseline = interleave(runs, importing("harmony_vocab"), importing("certifi"), warmup=1)
    return Figure("import", "import harmony_vocab", "ms", subject, baseline, "import certifi",
                  ratio_max=1.5, value_max=2.0,
                  note="both in venv-subject, in fresh processes; a module the start-up imported (see "
                       "startup_modules) is dropped from sys.modules first, so its code runs again")


RESOLVE_FIRST = """
    import json, time
    from harmony_vocab import resolve
    t0 = time.perf_counter()
    r = resolve("o200k_base")
    t1 = time.perf_counter()
    print(json.dumps({"seconds": t1 - t0, "tier": r.tier}))
"""

HASH_FIRST = """
    import hashlib, json, time
    t0 = time.perf_counter()
    with open(PATH, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    t1 = time.perf_counter()
    print(json.dumps({"seconds": t1 - t0}))
"""


def fig_resolve_first(s: Setup, runs: int) -> Figure:
    env = s.env()
    hash_code = HASH_FIRST.replace("PATH", repr(str(s.data_dir / O200K)))
    subject, baseline = interleave(
        runs,
        lambda _: child_seconds(s, s.subject_python, RESOLVE_FIRST, env, {"tier": "package"}) * 1e3,
        lambda _: child_seconds(s, s.baseline_python, hash_code, env) * 1e3,
        warmup=1,
    )
    return Figure("resolve_first", 'resolve("o200k_base"), first call in a process', "ms", subject, baseline,
                  "hashlib.sha256 of the file read into memory", ratio_max=1.2)


RESOLVE_REPEAT = """
    import json, time
    from harmony_vocab import resolve
    resolve("o200k_base")
    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        resolve("o200k_base")
    t1 = time.perf_counter()
    print(json.dumps({"seconds": (t1 - t0) / n}))
"""


def fig_resolve_repeat(s: Setup, runs: int) -> Figure:
    env = s.env()
    subject, _ = interleave(runs, lambda _: child_seconds(s, s.subject_python, RESOLVE_REPEAT, env) * 1e6)
    return Figure("resolve_repeat", 'resolve("o200k_base"), repeated in the same process', "us", subject,
                  value_max=50.0, note="mean of 2000 calls after the first, per process")


HARMONY_SUBJECT = """
    import json, time
    import harmony_vocab, openai_harmony
    load = harmony_vocab.load_harmony_encoding
    t0 = time.perf_counter()
    enc = load("HarmonyGptOss")
    t1 = time.perf_counter()
    print(json.dumps({"seconds": t1 - t0, "tokens": len(enc.encode("hello world"))}))
"""

HARMONY_BASELINE = """
    import json, time
    import openai_harmony
    name = openai_harmony.HarmonyEncodingName.HARMONY_GPT_OSS
    t0 = time.perf_counter()
    enc = openai_harmony.load_harmony_encoding(name)
    t1 = time.perf_counter()
    print(json.dumps({"seconds": t1 - t0, "tokens": len(enc.encode("hello world"))}))
"""


def fig_harmony(s: Setup, runs: int) -> Figure:
    subject_env = s.env()
    baseline_env = s.env(TIKTOKEN_ENCODINGS_BASE=str(s.data_dir))
    subject, baseline = interleave(
        runs,
        lambda _: child_seconds(s, s.subject_python, HARMONY_SUBJECT, subject_env, {"tokens": 2}) * 1e3,
        lambda _: child_seconds(s, s.baseline_python, HARMONY_BASELINE, baseline_env, {"tokens": 2}) * 1e3,
        warmup=1,
    )
    return Figure("harmony_load", 'harmony_vocab.load_harmony_encoding("HarmonyGptOss")', "ms", subject, baseline,
                  "openai_harmony.load_harmony_encoding, TIKTOKEN_ENCODINGS_BASE set by hand", ratio_max=1.05)


TIKTOKEN_SUBJECT = """
    import json, time
    import harmony_vocab, tiktoken
    load = harmony_vocab.tiktoken_encoding
    t0 = time.perf_counter()
    enc = load("o200k_base")
    t1 = time.perf_counter()
    print(json.dumps({"seconds": t1 - t0, "tokens": len(enc.encode("hello world"))}))
"""

TIKTOKEN_BASELINE = """
    import json, time
    import tiktoken
    t0 = time.perf_counter()
    enc = tiktoken.get_encoding("o200k_base")
    t1 = time.perf_counter()
    print(json.dumps({"seconds": t1 - t0, "tokens": len(enc.encode("hello world"))}))
"""


def fig_tiktoken(s: Setup, runs: int) -> Figure:
    env = s.env(TIKTOKEN_CACHE_DIR=str(s.tiktoken_cache))
    subject, baseline = interleave(
        runs,
        lambda _: child_seconds(s, s.subject_python, TIKTOKEN_SUBJECT, env, {"tokens": 2}) * 1e3,
        lambda _: child_seconds(s, s.baseline_python, TIKTOKEN_BASELINE, env, {"tokens": 2}) * 1e3,
        warmup=1,
    )
    return Figure("tiktoken_encoding", 'harmony_vocab.tiktoken_encoding("o200k_base")', "ms", subject, baseline,
                  'tiktoken.get_encoding("o200k_base"), warm tiktoken cache', ratio_max=1.05)


MODEL_RESOLVE = """
    import json, time
    from harmony_vocab import resolve
    t0 = time.perf_counter()
    r = resolve("o200k_base", model_dir=MODEL_DIR)
    t1 = time.perf_counter()
    print(json.dumps({"seconds": t1 - t0, "tier": r.tier}))
"""

JSON_LOAD = """
    import json, time
    t0 = time.perf_counter()
    with open(PATH, "rb") as f:
        data = json.load(f)
    t1 = time.perf_counter()
    print(json.dumps({"seconds": t1 - t0}))
"""


def fig_model_dir(s: Setup, runs: int) -> List[Figure]:
    code = MODEL_RESOLVE.replace("MODEL_DIR", repr(str(s.model_dir)))
    json_code = JSON_LOAD.replace("PATH", repr(str(s.model_dir / "tokenizer.json")))
    seconds: List[float] = []

    def first_then_second(i: int) -> float:
        cache = s.work / "home" / "model-cache" / f"run{i}"
        shutil.rmtree(cache, ignore_errors=True)
        env = s.env(HARMONY_VOCAB_CACHE_DIR=str(cache))
        first = child_seconds(s, s.subject_python, code, env, {"tier": "model"})
        second = child_seconds(s, s.subject_python, code, env, {"tier": "model"})
        shutil.rmtree(cache, ignore_errors=True)
        if i >= 0:
            seconds.append(second * 1e3)
        return first * 1e3

    first, baseline = interleave(
        runs, first_then_second,
        lambda _: child_seconds(s, s.baseline_python, json_code, s.env()) * 1e3,
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
                group = "startup"  # harmony_vocab.pth, _harmony_vocab_startup.py
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


def zlib_deflate(data: bytes, level: int) -> bytes:
    """Raw deflate (what a zip member holds) of `data` at `level`."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def fig_wheel_size(s: Setup) -> Figure:
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
        shutil.copytree(s.empty_project, tree)
        return build(tree, baseline_env)

    subject_runs, baseline_runs = interleave(runs, subject, baseline, warmup=1 if runs > 1 else 0)
    shutil.rmtree(builds, ignore_errors=True)
    return Figure("wheel_build", "offline wheel build from a warm cache", "s", subject_runs, baseline_runs,
                  "python -m build --wheel of an empty hatchling project",
                  note="python -m build --wheel --no-isolation for both; HARMONY_VOCAB_CACHE_DIR holds "
                       "verified copies, no HARMONY_VOCAB_SOURCE_DIR, HARMONY_VOCAB_OFFLINE=1")


# -------------------------------------------------------------------------------------- report

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


def describe_source(info: Mapping[str, Any]) -> str:
    if info.get("wheel"):
        return str(info["wheel"])
    if not info.get("commit"):
        return "a tree outside git"
    text = f"{info['rev']} at {info['commit'][:12]}"
    return text + (" with uncommitted edits" if info.get("dirty") else "")


def ratio_text(f: Figure) -> str:
    """The ratio to 3 decimals, or to as many more as it takes for the printed value to fall on the
    same side of the target as the measured one (1.0204 is "1.0204", not "1.020", against 1.02)."""
    if f.ratio is None:
        return "-"
    for decimals in range(3, 7):
        text = f"{f.ratio:.{decimals}f}"
        if f.ratio_max is None or (float(text) <= f.ratio_max) == (f.ratio <= f.ratio_max):
            return text
    return text


def table(figures: List[Figure]) -> str:
    header = ("figure", "subject", "baseline", "ratio", "target", "met?")
    rows = [header]
    for f in figures:
        met = {True: "yes", False: "NO", None: "(report)"}[f.met]
        ratio = ratio_text(f)
        rows.append((f.title, cell(f.subject, f.unit), cell(f.baseline, f.unit), ratio, f.target, met))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one run of everything (a smoke test)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write the results ({DEFAULT_JSON})")
    parser.add_argument("--runs", type=int, help="runs per figure measured in fresh processes (default 31; quick: 1)")
    parser.add_argument("--startup-runs", type=int, help="runs of `python -c pass` each (default 200; quick: 1)")
    parser.add_argument("--build-runs", type=int, help="wheel builds each (default 5; quick: 1)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help=f"venvs, wheels and scratch ({DEFAULT_WORK})")
    parser.add_argument("--python", default=sys.executable, help="the interpreter the venvs are made from")
    parser.add_argument("--vocab-mirror", help="directory holding the .tiktoken files the wheel is built from "
                                               "(default: $HARMONY_VOCAB_SOURCE_DIR, else ../shared/vocab)")
    parser.add_argument("--wheel", help="benchmark this wheel instead of building one")
    parser.add_argument("--rev", help="build from this git revision (exported with git archive) instead of "
                                      "the working tree, e.g. --rev HEAD when the tree has uncommitted edits")
    parser.add_argument("--only", help="comma-separated figure keys to measure (default: all)")
    parser.add_argument("--no-unshare", action="store_true", help="do not run measured processes in a "
                                                                  "network namespace with no network")
    args = parser.parse_args(argv)
    args.work = args.work.resolve()
    args.runs = args.runs or (1 if args.quick else 31)
    args.startup_runs = args.startup_runs or (1 if args.quick else 200)
    args.build_runs = args.build_runs or (1 if args.quick else 5)
    return args


FIGURE_KEYS = ("startup", "import", "resolve_first", "resolve_repeat", "harmony_load", "tiktoken_encoding",
               "model_dir", "wheel_size", "wheel_build")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    only = set(args.only.split(",")) if args.only else set(FIGURE_KEYS)
    unknown = only - set(FIGURE_KEYS)
    if unknown:
        print(f"unknown figure(s): {', '.join(sorted(unknown))}; known: {', '.join(FIGURE_KEYS)}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    with exclusive(args.work / ".lock"):
        try:
            s = prepare(args)
        except VenvError as exc:
            print(f"bench: set-up failed: {exc}", file=sys.stderr)
            return 4
        except SetupError as exc:
            print(f"bench: set-up failed: {exc}", file=sys.stderr)
            return 3
        return measure_and_report(args, s, only, started)


def measure_and_report(args: argparse.Namespace, s: Setup, only: Set[str], started: float) -> int:
    log(f"wheel {s.wheel.name} from {describe_source(s.source_info)}; "
        f"network isolation: {'unshare -n' if s.offline else 'none'}")
    log(f"modules imported at start-up by the .pth: {', '.join(s.startup_modules) or 'none'}")

    plan: List[Tuple[str, Callable[[], Any]]] = [
        ("startup", lambda: fig_startup(s, args.startup_runs)),
        ("import", lambda: fig_import(s, args.runs)),
        ("resolve_first", lambda: fig_resolve_first(s, args.runs)),
        ("resolve_repeat", lambda: fig_resolve_repeat(s, args.runs)),
        ("harmony_load", lambda: fig_harmony(s, args.runs)),
        ("tiktoken_encoding", lambda: fig_tiktoken(s, args.runs)),
        ("model_dir", lambda: fig_model_dir(s, args.runs)),
        ("wheel_size", lambda: fig_wheel_size(s)),
        ("wheel_build", lambda: fig_wheel_build(s, args.build_runs)),
    ]
    figures: List[Figure] = []
    for key, measure in plan:
        if key not in only:
            continue
        log(f"measuring {key}")
        try:
            result = measure()
        except SetupError as exc:
            print(f"bench: {key} failed: {exc}", file=sys.stderr)
            return 1
        figures.extend(result if isinstance(result, list) else [result])

    info = machine(s.python_version)
    print(f"harmony-vocab benchmark ({'quick' if args.quick else 'full'} mode): {info['cpu']}, "
          f"{info['nproc']} CPUs, Python {info['python']}, {info['date']}")
    print(f"runs: {args.runs} per figure ({args.startup_runs} for start-up, {args.build_runs} builds); "
          "subject and baseline interleaved; median (min..max)")
    print(f"wheel: {s.wheel.name} ({s.wheel.stat().st_size:,} bytes), built from {describe_source(s.source_info)}")
    print(table(figures))
    results = {
        "mode": "quick" if args.quick else "full",
        "machine": info,
        "runs": {"default": args.runs, "startup": args.startup_runs, "build": args.build_runs},
        "wheel": {"name": s.wheel.name, "sha256": sha256_file(s.wheel), "bytes": s.wheel.stat().st_size},
        "source": s.source_info,
        "startup_modules": s.startup_modules,
        "wheel_breakdown": s.wheel_breakdown,
        "network_isolation": "unshare -n" if s.offline else "none",
        "versions": s.versions,
        "elapsed_seconds": time.perf_counter() - started,
        "figures": [f.as_json() for f in figures],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    log(f"results written to {args.json} ({results['elapsed_seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
