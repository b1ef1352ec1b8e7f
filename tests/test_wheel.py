"""The real wheels and sdists (core, and the companion from legacy/), built with no network from
the local mirror (issues 2 and 14)."""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Dict, List

import pytest

from harmony_vocab.pins import PINS
from support import PYTHON, SHARED_VOCAB, clean_env, offline, run, venv_python

pytestmark = pytest.mark.integration

CORE_FILES = ["cl100k_base.tiktoken", "o200k_base.tiktoken"]
LEGACY_FILES = ["encoder.json", "p50k_base.tiktoken", "r50k_base.tiktoken", "vocab.bpe"]
PINNED = {f.name: f for pin in PINS.values() for f in pin.files}
BUILD_REQUIREMENTS = ["hatchling", "requests", "tomli", "editables"]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def data_files(wheel: Path, package: str) -> List[str]:
    with zipfile.ZipFile(wheel) as zf:
        return sorted(n.rsplit("/", 1)[1] for n in zf.namelist() if n.startswith(f"{package}/data/"))


def metadata(wheel: Path) -> Dict[str, List[str]]:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        text = zf.read(name).decode()
    fields: Dict[str, List[str]] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    return fields


def assert_pinned_and_recompressed(wheel: Path, package: str, names: List[str]) -> None:
    with zipfile.ZipFile(wheel) as zf:
        for name in names:
            data = zf.read(f"{package}/data/{name}")
            assert (len(data), _sha(data)) == (PINNED[name].size, PINNED[name].sha256), name
            level9 = zlib.compressobj(9, zlib.DEFLATED, -15)  # the hook's recompress step
            assert zf.getinfo(f"{package}/data/{name}").compress_size == len(level9.compress(data) + level9.flush())
        assert not any(n.endswith(".part") or "/." in n for n in zf.namelist())


@pytest.mark.parametrize(
    ("key", "package", "files"),
    [("wheel", "harmony_vocab", CORE_FILES), ("legacy_wheel", "harmony_vocab_legacy", LEGACY_FILES)],
    ids=["core", "companion"],
)
def test_wheel_holds_exactly_its_vocab_files(dist: Dict[str, Path], key: str, package: str, files: List[str]) -> None:
    wheel = dist[key]
    assert wheel.name == f"{package}-0.1.0-py3-none-any.whl"
    assert data_files(wheel, package) == files
    assert_pinned_and_recompressed(wheel, package, files)
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    if package == "harmony_vocab":
        assert {"harmony_vocab/py.typed", "harmony_vocab/_pins.py", "harmony_vocab.pth", "harmony_vocab.start",
                "_harmony_vocab_startup.py"} <= names
        # No required run-time dependency: every Requires-Dist is behind an extra.
        requires = metadata(wheel)["Requires-Dist"]
        assert requires and all("extra ==" in line for line in requires), requires
    else:
        top = {n.split("/", 1)[0] for n in names}
        assert top == {package, f"{package}-0.1.0.dist-info"}, "no start-up file, no core module"


def test_companion_version_equals_the_cores_and_each_pins_the_other(dist: Dict[str, Path]) -> None:
    """Both versions are written as literals (src/harmony_vocab/__init__.py, legacy/pyproject.toml):
    the core's `legacy` extra and the companion's dependency must name exactly the other."""
    core, legacy = metadata(dist["wheel"]), metadata(dist["legacy_wheel"])
    (version,) = core["Version"]
    assert legacy["Version"] == [version]
    assert f"harmony-vocab-legacy=={version}; extra == 'legacy'" in core["Requires-Dist"]
    assert legacy["Requires-Dist"] == [f"harmony-vocab=={version}"]


@pytest.mark.parametrize("which", ["core", "legacy"])
def test_sdist_carries_the_files_hook_and_manifest(dist: Dict[str, Path], which: str) -> None:
    sdist = dist["sdist" if which == "core" else "legacy_sdist"]
    package, names = ("harmony_vocab", CORE_FILES) if which == "core" else ("harmony_vocab_legacy", LEGACY_FILES)
    with tarfile.open(sdist) as tf:
        members = {m.name.split("/", 1)[1]: m for m in tf.getmembers() if "/" in m.name}
        for name in names:
            f = tf.extractfile(members[f"src/{package}/data/{name}"])
            assert f is not None and _sha(f.read()) == PINNED[name].sha256
        # legacy/'s links go in as the files themselves: an unpacked sdist has no ".."
        for needed in ("hatch_build.py", "vocab_manifest.toml", "pyproject.toml", "LICENSE"):
            assert members[needed].isfile(), needed
        assert not [n for n in members if n.startswith(f"src/{package}/data/") and n.rsplit("/", 1)[1] not in names]


@pytest.mark.parametrize("which", ["core", "legacy"])
def test_wheel_built_from_the_sdist_needs_no_mirror_and_no_network(
    dist: Dict[str, Path], offline_build: Callable[..., Path], tmp_path: Path, which: str
) -> None:
    sdist, wheel = (dist["sdist"], dist["wheel"]) if which == "core" else (dist["legacy_sdist"], dist["legacy_wheel"])
    with tarfile.open(sdist) as tf:
        tf.extractall(tmp_path / "unpacked", **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    (tree,) = (tmp_path / "unpacked").iterdir()
    empty_cache = tmp_path / "empty-cache"
    out = offline_build(tree, tmp_path / "out", "--wheel", HARMONY_VOCAB_CACHE_DIR=str(empty_cache))
    (built,) = out.glob("*.whl")
    assert built.read_bytes() == wheel.read_bytes()
    assert not empty_cache.exists() or not any(empty_cache.iterdir())


def test_builds_are_byte_identical(dist: Dict[str, Path], offline_build: Callable[..., Path], tmp_path: Path) -> None:
    env = dict(HARMONY_VOCAB_SOURCE_DIR=str(SHARED_VOCAB), HARMONY_VOCAB_OFFLINE="1")
    for folder, wheel in ((dist["tree"], dist["wheel"]), (dist["tree"] / "legacy", dist["legacy_wheel"])):
        again = offline_build(folder, tmp_path / f"again-{folder.name}", "--wheel", **env)
        assert next(again.glob("*.whl")).read_bytes() == wheel.read_bytes(), folder
    epoch = dict(env, SOURCE_DATE_EPOCH="1700000000")
    first = next(offline_build(dist["tree"], tmp_path / "e1", "--wheel", **epoch).glob("*.whl"))
    second = next(offline_build(dist["tree"], tmp_path / "e2", "--wheel", **epoch).glob("*.whl"))
    assert first.read_bytes() == second.read_bytes()


def clean_tree(dist: Dict[str, Path], dest: Path) -> Path:
    """A fresh copy of the project tree, without any built vocab file."""
    shutil.copytree(dist["tree"], dest, symlinks=True,
                    ignore=shutil.ignore_patterns("data", "_pins.py", "__pycache__"))
    return dest


def build_venv(build_wheelhouse: Path, tmp_path: Path) -> Path:
    """A venv holding the build requirements, installed from the wheelhouse."""
    venv = tmp_path / "build-venv"
    run([PYTHON, "-m", "venv", venv])
    run(offline([venv_python(venv), "-m", "pip", "install", "-q", "--no-index", "--find-links", build_wheelhouse,
                 *BUILD_REQUIREMENTS]), env=clean_env(tmp_path / "home"))
    return venv


def test_tampered_mirror_fails_the_build_listing_every_source(
    dist: Dict[str, Path], offline_build: Callable[..., Path], tmp_path: Path
) -> None:
    tree = clean_tree(dist, tmp_path / "tree")
    bad_mirror = tmp_path / "mirror"
    bad_mirror.mkdir()
    for name in CORE_FILES:
        data = (SHARED_VOCAB / name).read_bytes()
        (bad_mirror / name).write_bytes(data[:100] + bytes([data[100] ^ 1]) + data[101:])
    with pytest.raises(AssertionError) as info:
        offline_build(tree, tmp_path / "out", "--wheel", HARMONY_VOCAB_SOURCE_DIR=str(bad_mirror),
                      HARMONY_VOCAB_OFFLINE="1", HARMONY_VOCAB_CACHE_DIR=str(tmp_path / "cache"))
    text = str(info.value)
    assert "no verified copy of o200k_base.tiktoken" in text
    bad = _sha((bad_mirror / "o200k_base.tiktoken").read_bytes())
    for source in (f"{bad_mirror}/o200k_base.tiktoken: sha256 {bad}",
                   f"{bad_mirror}/encodings/o200k_base.tiktoken: missing",
                   f"{tree}/src/harmony_vocab/data/o200k_base.tiktoken: missing",
                   f"{tmp_path / 'cache'}/o200k_base.tiktoken: missing",
                   "download: not allowed: HARMONY_VOCAB_OFFLINE=1"):
        assert source in text, source
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.whl"))
    assert not (tree / "src/harmony_vocab/data").exists() or not any((tree / "src/harmony_vocab/data").iterdir())


def test_pip_wheel_builds_both_wheels_offline_from_a_relative_mirror(
    dist: Dict[str, Path], build_wheelhouse: Path, tmp_path: Path
) -> None:
    """Issue 14's command, typed in a clean checkout beside ../shared/vocab, with no network."""
    work = tmp_path / "work"
    tree = clean_tree(dist, work / "harmony-vocab")
    (work / "shared").mkdir()
    (work / "shared" / "vocab").symlink_to(SHARED_VOCAB)
    venv = build_venv(build_wheelhouse, tmp_path)
    env = clean_env(tmp_path / "home", HARMONY_VOCAB_SOURCE_DIR="../shared/vocab",
                    HARMONY_VOCAB_CACHE_DIR=str(tmp_path / "empty-cache"))
    run(offline([venv_python(venv), "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", ".", "./legacy",
                 "-w", "dist"]), env=env, cwd=tree)
    wheels = sorted(p.name for p in (tree / "dist").iterdir())
    assert wheels == ["harmony_vocab-0.1.0-py3-none-any.whl", "harmony_vocab_legacy-0.1.0-py3-none-any.whl"]
    assert data_files(tree / "dist" / wheels[0], "harmony_vocab") == CORE_FILES
    assert data_files(tree / "dist" / wheels[1], "harmony_vocab_legacy") == LEGACY_FILES
    assert_pinned_and_recompressed(tree / "dist" / wheels[1], "harmony_vocab_legacy", LEGACY_FILES)
    assert not (tmp_path / "empty-cache").exists()


def test_installs_from_a_local_wheelhouse(dist: Dict[str, Path], tmp_path: Path) -> None:
    """``harmony-vocab[legacy]`` brings the companion, plain ``harmony-vocab`` does not (control),
    and the companion alone brings the core."""
    house = tmp_path / "wheelhouse"
    house.mkdir()
    shutil.copy(dist["wheel"], house)
    shutil.copy(dist["legacy_wheel"], house)
    probe = ("import importlib.metadata as m, harmony_vocab as hv\n"
             "for d in ('harmony-vocab', 'harmony-vocab-legacy'):\n"
             "    try: print(d, m.version(d))\n"
             "    except m.PackageNotFoundError: print(d, None)\n"
             "r = hv.resolve('r50k_base') if 'r50k_base' in __import__('harmony_vocab.tiers').tiers.installed_vocabs() else None\n"
             "print('r50k_base', r.tier if r else None)\n")
    seen = {}
    for case, requirement in (("extra", "harmony-vocab[legacy]"), ("plain", "harmony-vocab"),
                              ("companion", "harmony-vocab-legacy")):
        venv = tmp_path / f"venv-{case}"
        run([PYTHON, "-m", "venv", venv])
        env = clean_env(tmp_path / f"home-{case}")
        run(offline([venv_python(venv), "-m", "pip", "install", "-q", "--no-index", "--find-links", house,
                     requirement]), env=env)
        out = run(offline([venv_python(venv), "-c", probe]), env=env).stdout
        seen[case] = dict(line.split(" ", 1) for line in out.splitlines())
    installed = {"harmony-vocab": "0.1.0", "harmony-vocab-legacy": "0.1.0", "r50k_base": "package"}
    assert seen["extra"] == installed
    assert seen["companion"] == installed
    assert seen["plain"] == {"harmony-vocab": "0.1.0", "harmony-vocab-legacy": "None", "r50k_base": "None"}


def test_installed_wheels_files_match_the_pins_offline(companion_venv: Path, tmp_path: Path) -> None:
    script = (
        "import hashlib, harmony_vocab as hv\n"
        "from harmony_vocab.pins import PINS\n"
        "for name in hv.VOCABS:\n"
        "    for path in hv.resolve(name).paths:\n"
        "        print(name, path, hashlib.sha256(open(path, 'rb').read()).hexdigest())\n"
    )
    out = run(offline([venv_python(companion_venv), "-c", script]), env=clean_env(tmp_path)).stdout
    found = {line.split()[1].rsplit("/", 1)[1]: line.split() for line in out.splitlines()}
    assert sorted(found) == sorted(CORE_FILES + LEGACY_FILES)
    for name, (_vocab, path, digest) in found.items():
        package = "harmony_vocab" if name in CORE_FILES else "harmony_vocab_legacy"
        assert digest == PINNED[name].sha256
        assert path.startswith(str(companion_venv)) and path.endswith(f"{package}/data/{name}")


def test_editable_install_finds_the_vocab(dist: Dict[str, Path], build_wheelhouse: Path, tmp_path: Path) -> None:
    tree = clean_tree(dist, tmp_path / "tree")
    venv = tmp_path / "venv"
    run([PYTHON, "-m", "venv", venv])
    env = clean_env(tmp_path / "home", PIP_NO_INDEX="1", PIP_FIND_LINKS=str(build_wheelhouse),
                    HARMONY_VOCAB_SOURCE_DIR=str(SHARED_VOCAB), HARMONY_VOCAB_OFFLINE="1")
    run(offline([venv_python(venv), "-m", "pip", "install", "-q", "-e", tree]), env=env)
    code = ("import os, harmony_vocab as hv; r = hv.resolve('o200k_base');"
            "print(r.tier, r.path, os.environ.get('TIKTOKEN_ENCODINGS_BASE'))")
    out = run(offline([venv_python(venv), "-c", code]), env=clean_env(tmp_path / "home2")).stdout.split()
    data = tree / "src/harmony_vocab/data"
    # The start-up registration works from an editable install too: it finds the source tree.
    assert out == ["package", str(data / "o200k_base.tiktoken"), str(data)]
