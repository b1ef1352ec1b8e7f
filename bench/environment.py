"""The benchmark's set-up: the venvs, the wheel, the caches and model directory the figures use."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from harness import (
    BENCH,
    ROOT,
    SetupError,
    VenvError,
    clean_env,
    log,
    network_isolation,
    probe,
    run,
    sha256_file,
    url_cache_name,
    venv_python,
)
from sources import copy_source_tree, describe_working_tree, export_revision, source_key

VOCAB_FILES = ("o200k_base.tiktoken", "cl100k_base.tiktoken")  # the core wheel's
O200K = "o200k_base.tiktoken"
ONE_LINE_MODULE = "bench_one_line"  # the import-time baseline, put beside _harmony_vocab_startup

RUNTIME_REQUIREMENTS = ["openai-harmony==0.0.8", "tiktoken", "certifi"]
BUILD_REQUIREMENTS = ["build>=1.0", "hatchling>=1.21", "requests>=2.28"]
if sys.version_info < (3, 11):
    BUILD_REQUIREMENTS.append("tomli>=1.1")

EMPTY_PROJECT = BENCH / "empty-project"  # the wheel-build baseline: an empty hatchling project


@dataclass
class Setup:
    """Everything the figures need: interpreters, paths, environments."""

    work: Path
    source: Path  # the tree the wheels are built from (the repository, or an exported revision)
    source_info: Dict[str, Any]
    startup_modules: List[str]  # modules the subject's start-up imports that the baseline's does not
    build_python: Path
    subject_python: Path  # venv-subject: the core wheel and the tools
    baseline_python: Path  # venv-baseline: the tools only
    companion_python: Path  # venv-companion: both wheels and the tools
    floor_python: Path  # venv-floor: venv-baseline's packages plus a .pth importing a one-line module
    wheel: Path
    legacy_wheel: Path
    data_dir: Path  # the core's vocab files as installed from the wheel, in venv-subject
    legacy_data_dir: Path  # the companion's, in venv-companion
    pins: Dict[str, Any]  # what harmony_vocab.pins holds, as probes/venv_info.py prints it
    tiktoken_cache: Path  # tiktoken's own cache, warm, seeded from the mirror
    model_dir: Path
    build_cache: Path
    offline: List[str]
    versions: Dict[str, str]
    python_version: str
    wheel_breakdown: Optional[Dict[str, Any]] = None  # filled in by fig_wheel_size

    def env(self, **extra: str) -> Dict[str, str]:
        return clean_env(self.work / "home", **extra)

    def script(self, python: Path, name: str) -> Path:
        """A console script installed in `python`'s venv."""
        return python.parent / (name + (".exe" if os.name == "nt" else ""))

    def child(self, python: Path, script: str, args: Sequence[Any], env: Mapping[str, str],
              expect: Optional[Dict[str, Any]] = None) -> float:
        """Run probes/`script` with `args` in a fresh interpreter (no network); it prints one JSON
        object as its last line, holding "seconds": the time it measured around the call under
        test, and any `expect`ed values. Returns the seconds."""
        return float(self.child_json(python, script, args, env, expect)["seconds"])

    def child_json(self, python: Path, script: str, args: Sequence[Any], env: Mapping[str, str],
                   expect: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        cmd = [*self.offline, str(python), str(probe(script)), *map(str, args)]
        proc = run(cmd, env=env)
        result: Dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        for key, value in (expect or {}).items():
            if result.get(key) != value:
                raise SetupError(f"unexpected {key}={result.get(key)!r} (expected {value!r}) from {' '.join(cmd)}")
        return result


def find_vocab_mirror(explicit: Optional[str]) -> Path:
    """Where the builds take the vocab files from: --vocab-mirror, HARMONY_VOCAB_SOURCE_DIR,
    ../shared/vocab (the companion's files by name or by their URL's path, as the build hook
    looks for them)."""
    candidates = [explicit, os.environ.get("HARMONY_VOCAB_SOURCE_DIR"), str(ROOT.parent / "shared" / "vocab")]
    for candidate in candidates:
        if candidate and all((Path(candidate) / name).is_file() for name in VOCAB_FILES):
            return Path(candidate).resolve()
    raise SetupError("no directory holding o200k_base.tiktoken and cl100k_base.tiktoken: pass "
                     "--vocab-mirror DIR or set HARMONY_VOCAB_SOURCE_DIR")


def mirror_file(mirror: Path, entry: Mapping[str, Any]) -> Path:
    """A pinned file (``{"name", "sha256", "urls"}``) in the mirror: under its name, or under its
    canonical URL's path (``gpt-2/encodings/main/vocab.bpe``); checked against its sha256."""
    from urllib.parse import urlsplit

    url: str = entry["urls"][0]
    for candidate in (mirror / str(entry["name"]), mirror / urlsplit(url).path.lstrip("/")):
        if candidate.is_file():
            if sha256_file(candidate) != entry["sha256"]:
                raise SetupError(f"{candidate} does not match its pin (sha256 {entry['sha256']})")
            return candidate
    raise SetupError(f"the vocab mirror {mirror} holds no {entry['name']}")


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


def ensure_wheels(work: Path, source: Path, build_python: Path, mirror: Path,
                  offline: List[str]) -> Tuple[Path, Path]:
    """The core and companion wheels of the sources under `source`, built offline from the mirror
    (``pip wheel --no-build-isolation --no-deps . ./legacy``), or the cached ones."""
    out = work / "wheels" / source_key(source)
    cached_core, cached_legacy = sorted(out.glob("harmony_vocab-*.whl")), sorted(out.glob("harmony_vocab_legacy-*.whl"))
    if cached_core and cached_legacy:
        return cached_core[-1], cached_legacy[-1]
    log(f"building the core and companion wheels from {mirror}")
    tree = copy_source_tree(source, work / "wheel-tree")
    home = work / "home-build"
    env = clean_env(home, HARMONY_VOCAB_SOURCE_DIR=str(mirror), HARMONY_VOCAB_OFFLINE="1",
                    HARMONY_VOCAB_CACHE_DIR=str(home / "empty-cache"), PIP_NO_INDEX="1")
    staging = work / "wheels" / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    run(offline + [str(build_python), "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps",
                   "-w", str(staging), str(tree), str(tree / "legacy")], env=env)
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(out)
    shutil.rmtree(tree)
    shutil.rmtree(home, ignore_errors=True)
    stale = sorted((d for d in out.parent.iterdir() if d.is_dir() and d != out), key=lambda d: d.stat().st_mtime)
    for old in stale[:-2]:  # keep the two most recent other builds
        shutil.rmtree(old, ignore_errors=True)
    (core,), (legacy,) = out.glob("harmony_vocab-*.whl"), out.glob("harmony_vocab_legacy-*.whl")
    return core, legacy


def install_wheels(venv: Path, python: Path, wheels: Sequence[Path]) -> None:
    """Install `wheels` (no dependencies) into `venv`, unless the same files are installed."""
    marker = venv / "bench-wheels.json"
    want = {w.name: sha256_file(w) for w in wheels}
    try:
        if json.loads(marker.read_text()) == want:
            return
    except (OSError, ValueError):
        pass
    log(f"installing {', '.join(want)} into {venv.name}")
    run([python, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", *wheels])
    marker.write_text(json.dumps(want))


def ensure_venvs(work: Path, python: str, wheel: Path,
                 legacy_wheel: Path) -> Tuple[Path, Path, Path, Path, Dict[str, str]]:
    """venv-subject (core wheel + runtime requirements), venv-baseline (the same versions, no
    wheel), venv-companion (the same, both wheels) and venv-floor (the same, no wheel: `prepare`
    adds its .pth)."""
    tag = python_tag(python)
    subject_dir = work / f"venv-subject-{tag}"
    subject = ensure_venv(subject_dir, python, RUNTIME_REQUIREMENTS)
    install_wheels(subject_dir, subject, [wheel])
    frozen = run([subject, "-m", "pip", "list", "--format=freeze"]).stdout.split()
    pinned = sorted(line for line in frozen if not line.lower().startswith(("harmony-vocab==", "harmony_vocab==",
                                                                            "pip==", "setuptools==")))
    baseline = ensure_venv(work / f"venv-baseline-{tag}", python, pinned)
    companion_dir = work / f"venv-companion-{tag}"
    companion = ensure_venv(companion_dir, python, pinned)
    install_wheels(companion_dir, companion, [wheel, legacy_wheel])
    floor = ensure_venv(work / f"venv-floor-{tag}", python, pinned)
    versions = dict(line.split("==", 1) for line in frozen if "==" in line)
    return subject, baseline, companion, floor, versions


def venv_info(python: Path, env: Mapping[str, str]) -> Dict[str, Any]:
    """What probes/venv_info.py reports of a venv: the core's and the companion's data directories
    (None where not installed), the pins, site-packages, the Python version, the registration
    marker and the modules loaded at start-up."""
    info: Dict[str, Any] = json.loads(run([python, probe("venv_info.py")], env=env).stdout)
    return info


def prepare(args: argparse.Namespace) -> Setup:
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    offline = [] if args.no_unshare else network_isolation()
    python = args.python
    mirror = find_vocab_mirror(args.vocab_mirror)
    build_python = ensure_venv(work / f"venv-build-{python_tag(python)}", python, BUILD_REQUIREMENTS)
    if args.rev:
        source, source_info = export_revision(args.rev, work)
    else:
        source, source_info = ROOT, describe_working_tree()
    if args.wheel:
        wheel, legacy_wheel = Path(args.wheel[0]).resolve(), Path(args.wheel[1]).resolve()
        source_info = {**source_info, "wheel": "given with --wheel"}
    else:
        wheel, legacy_wheel = ensure_wheels(work, source, build_python, mirror, offline)
    subject, baseline, companion, floor, versions = ensure_venvs(work, python, wheel, legacy_wheel)
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)  # no cache left over from an earlier run
    env = clean_env(home)

    info = venv_info(subject, env)
    if not info["registered"]:
        raise SetupError("venv-subject does not register at start-up (HARMONY_VOCAB_REGISTERED unset): "
                         "is harmony_vocab.pth in the wheel?")
    if info["legacy"]:
        raise SetupError("venv-subject has the companion: it must not")
    base_info = venv_info(baseline, env)
    if base_info["registered"] or base_info["data"]:
        raise SetupError("venv-baseline has harmony-vocab: it must not")
    companion_info = venv_info(companion, env)
    if not companion_info["registered"] or not companion_info["legacy"]:
        raise SetupError("venv-companion lacks the companion's data directory or the registration")
    data_dir = Path(info["data"])
    startup_modules = sorted(set(info["modules"]) - set(base_info["modules"]))

    # The import-time baseline: a one-line module beside the start-up module, compiled as pip
    # compiled that one.
    one_line = Path(info["site"]) / f"{ONE_LINE_MODULE}.py"
    if not one_line.exists():
        one_line.write_text("VALUE = 1\n")
        run([subject, "-c", f"import py_compile; py_compile.compile({str(one_line)!r})"], env=env)
    # The start-up floor: venv-floor imports the same one-line module from a .pth at every start.
    floor_site = Path(venv_info(floor, env)["site"])
    if not (floor_site / "bench_floor.pth").exists():
        (floor_site / f"{ONE_LINE_MODULE}.py").write_text("VALUE = 1\n")
        run([floor, "-c", f"import py_compile; py_compile.compile({str(floor_site / (ONE_LINE_MODULE + '.py'))!r})"],
            env=env)
        (floor_site / "bench_floor.pth").write_text(f"import {ONE_LINE_MODULE}\n")

    # tiktoken's own cache, warm: every file tiktoken reads for o200k_base, r50k_base and gpt2,
    # from the mirror, named by the sha1 of its canonical URL.
    tiktoken_cache = work / "tiktoken-cache"
    tiktoken_cache.mkdir(exist_ok=True)
    for name in ("o200k_base", "r50k_base", "gpt2"):
        for entry in info["pins"][name]["files"]:
            target = tiktoken_cache / url_cache_name(entry["urls"][0])
            if not target.exists() or sha256_file(target) != entry["sha256"]:
                shutil.copyfile(mirror_file(mirror, entry), target)

    # A model directory holding only the o200k tokenizer.json (tests/support.py's to_tokenizer_json).
    model_dir = work / "model-tokenizer-json"
    stamp = model_dir / "made-from.sha256"
    vocab_hash = sha256_file(data_dir / O200K)
    if not (model_dir / "tokenizer.json").exists() or not stamp.exists() or stamp.read_text() != vocab_hash:
        log("writing the o200k tokenizer.json")
        shutil.rmtree(model_dir, ignore_errors=True)
        model_dir.mkdir()
        run([subject, probe("write_tokenizer_json.py"), data_dir / O200K, model_dir / "tokenizer.json"], env=env)
        stamp.write_text(vocab_hash)

    # Our download cache, warm: verified copies under their file names (what the build hook reads).
    build_cache = work / "build-cache"
    build_cache.mkdir(exist_ok=True)
    for name in VOCAB_FILES:
        if not (build_cache / name).exists() or sha256_file(build_cache / name) != sha256_file(data_dir / name):
            shutil.copyfile(data_dir / name, build_cache / name)

    return Setup(work=work, source=source, source_info=source_info, startup_modules=startup_modules,
                 build_python=build_python, subject_python=subject, baseline_python=baseline,
                 companion_python=companion, floor_python=floor, wheel=wheel, legacy_wheel=legacy_wheel, data_dir=data_dir,
                 legacy_data_dir=Path(companion_info["legacy"]), pins=info["pins"],
                 tiktoken_cache=tiktoken_cache, model_dir=model_dir, build_cache=build_cache, offline=offline,
                 versions=versions, python_version=info["python"])
