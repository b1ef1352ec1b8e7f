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

VOCAB_FILES = ("o200k_base.tiktoken", "cl100k_base.tiktoken")
O200K = "o200k_base.tiktoken"
CANONICAL_URLS = {name: "https://openaipublic.blob.core.windows.net/encodings/" + name for name in VOCAB_FILES}

RUNTIME_REQUIREMENTS = ["openai-harmony==0.0.8", "tiktoken", "certifi"]
BUILD_REQUIREMENTS = ["build>=1.0", "hatchling>=1.21", "requests>=2.28"]
if sys.version_info < (3, 11):
    BUILD_REQUIREMENTS.append("tomli>=1.1")

EMPTY_PROJECT = BENCH / "empty-project"  # the wheel-build baseline: an empty hatchling project


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
    offline: List[str]
    versions: Dict[str, str]
    python_version: str
    wheel_breakdown: Optional[Dict[str, Any]] = None  # filled in by fig_wheel_size

    def env(self, **extra: str) -> Dict[str, str]:
        return clean_env(self.work / "home", **extra)

    def child(self, python: Path, script: str, args: Sequence[Any], env: Mapping[str, str],
              expect: Optional[Dict[str, Any]] = None) -> float:
        """Run probes/`script` with `args` in a fresh interpreter (no network); it prints one JSON
        object as its last line, holding "seconds": the time it measured around the call under
        test, and any `expect`ed values. Returns the seconds."""
        cmd = [*self.offline, str(python), str(probe(script)), *map(str, args)]
        proc = run(cmd, env=env)
        result: Dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        for key, value in (expect or {}).items():
            if result.get(key) != value:
                raise SetupError(f"unexpected {key}={result.get(key)!r} (expected {value!r}) from {' '.join(cmd)}")
        return float(result["seconds"])


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


def venv_info(python: Path, env: Mapping[str, str]) -> Dict[str, Any]:
    """What probes/venv_info.py reports of a venv: the bundled data directory (None without
    harmony-vocab), the Python version, the registration marker and the modules loaded at start-up."""
    info: Dict[str, Any] = json.loads(run([python, probe("venv_info.py")], env=env).stdout)
    return info


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

    info = venv_info(subject, env)
    if not info["registered"]:
        raise SetupError("venv-subject does not register at start-up (HARMONY_VOCAB_REGISTERED unset): "
                         "is harmony_vocab.pth in the wheel?")
    base_info = venv_info(baseline, env)
    if base_info["registered"] or base_info["data"]:
        raise SetupError("venv-baseline has harmony-vocab: it must not")
    data_dir = Path(info["data"])
    startup_modules = sorted(set(info["modules"]) - set(base_info["modules"]))

    # tiktoken's cache, warm: the files named by the sha1 of their canonical URL.
    tiktoken_cache = work / "tiktoken-cache"
    tiktoken_cache.mkdir(exist_ok=True)
    for name, url in CANONICAL_URLS.items():
        target = tiktoken_cache / url_cache_name(url)
        if not target.exists() or target.stat().st_size != (data_dir / name).stat().st_size:
            shutil.copyfile(data_dir / name, target)

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
                 wheel=wheel, data_dir=data_dir, tiktoken_cache=tiktoken_cache, model_dir=model_dir,
                 build_cache=build_cache, offline=offline, versions=versions,
                 python_version=info["python"])
