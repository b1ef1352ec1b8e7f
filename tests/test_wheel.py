"""The real wheel and sdist, built with no network from the local mirror (issue 2)."""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Dict

import pytest

from harmony_vocab.pins import PINS
from support import PYTHON, SHARED_VOCAB, clean_env, offline, run, venv_python

pytestmark = pytest.mark.integration


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_wheel_holds_pinned_vocab_files_and_markers(dist: Dict[str, Path]) -> None:
    wheel = dist["wheel"]
    assert wheel.name == "harmony_vocab-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for pin in PINS.values():
            data = zf.read(f"harmony_vocab/data/{pin.file}")
            assert (len(data), _sha(data)) == (pin.size, pin.sha256)
            level9 = zlib.compressobj(9, zlib.DEFLATED, -15)  # the hook's recompress step
            assert zf.getinfo(f"harmony_vocab/data/{pin.file}").compress_size == len(level9.compress(data) + level9.flush())
        assert "harmony_vocab/py.typed" in names
        assert {"harmony_vocab.pth", "_harmony_vocab_startup.py", "_harmony_vocab_lookup.py",
                "_harmony_vocab_paths.py"} <= names
        assert not any(n.endswith(".part") for n in names)
        metadata = zf.read("harmony_vocab-0.1.0.dist-info/METADATA").decode()
    # No required run-time dependency: every Requires-Dist is behind an extra.
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert requires and all("extra ==" in line for line in requires), requires


def test_sdist_holds_vocab_files_manifest_and_hook(dist: Dict[str, Path]) -> None:
    with tarfile.open(dist["sdist"]) as tf:
        members = {m.name.split("/", 1)[1]: m for m in tf.getmembers() if "/" in m.name}
        for pin in PINS.values():
            f = tf.extractfile(members[f"src/harmony_vocab/data/{pin.file}"])
            assert f is not None and _sha(f.read()) == pin.sha256
        for needed in ("hatch_build.py", "vocab_manifest.toml", "pyproject.toml", "LICENSE"):
            assert needed in members


def test_installed_wheel_files_match_pins_offline(wheel_venv: Path, tmp_path: Path) -> None:
    script = (
        "import hashlib, harmony_vocab as hv\n"
        "for name in hv.VOCABS:\n"
        "    p = hv.bundled_path(name)\n"
        "    print(name, p, hashlib.sha256(p.read_bytes()).hexdigest())\n"
        "    hv.verify_file(p, name)\n"
        "print('dir', hv.bundled_dir())\n"
    )
    out = run(offline([venv_python(wheel_venv), "-c", script]), env=clean_env(tmp_path)).stdout
    lines = dict(line.split(" ", 1) for line in out.splitlines())
    for name, pin in PINS.items():
        path, digest = lines[name].split()
        assert digest == pin.sha256
        assert str(wheel_venv) in path and path.endswith(f"harmony_vocab/data/{pin.file}")


def test_wheel_built_from_sdist_needs_no_mirror_and_no_network(
    dist: Dict[str, Path], offline_build: Callable[..., Path], tmp_path: Path
) -> None:
    with tarfile.open(dist["sdist"]) as tf:
        tf.extractall(tmp_path / "unpacked", **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    (tree,) = (tmp_path / "unpacked").iterdir()
    out = offline_build(tree, tmp_path / "out", "--wheel",
                        HARMONY_VOCAB_CACHE_DIR=str(tmp_path / "empty-cache"))
    (wheel,) = out.glob("*.whl")
    assert wheel.read_bytes() == dist["wheel"].read_bytes()
    assert not (tmp_path / "empty-cache").exists() or not any((tmp_path / "empty-cache").iterdir())


def test_two_builds_give_byte_identical_wheels(
    dist: Dict[str, Path], offline_build: Callable[..., Path], tmp_path: Path
) -> None:
    env = dict(HARMONY_VOCAB_SOURCE_DIR=str(SHARED_VOCAB), HARMONY_VOCAB_OFFLINE="1")
    again = offline_build(dist["tree"], tmp_path / "again", "--wheel", **env)
    assert next(again.glob("*.whl")).read_bytes() == dist["wheel"].read_bytes()
    epoch = dict(env, SOURCE_DATE_EPOCH="1700000000")
    first = next(offline_build(dist["tree"], tmp_path / "e1", "--wheel", **epoch).glob("*.whl"))
    second = next(offline_build(dist["tree"], tmp_path / "e2", "--wheel", **epoch).glob("*.whl"))
    assert first.read_bytes() == second.read_bytes()


def clean_tree(dist: Dict[str, Path], tmp_path: Path) -> Path:
    """A fresh copy of the project tree, without any built vocab file."""
    tree = tmp_path / "tree"
    shutil.copytree(dist["tree"], tree, ignore=shutil.ignore_patterns("*.tiktoken"))
    return tree


def offline_pip_env(home: Path, wheelhouse: Path, **extra: str) -> Dict[str, str]:
    """A clean environment where pip takes the build requirements from the wheelhouse only."""
    return clean_env(home, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse), **extra)


def test_offline_build_with_no_source_fails_listing_every_source(
    dist: Dict[str, Path], build_wheelhouse: Path, tmp_path: Path
) -> None:
    tree = clean_tree(dist, tmp_path)
    bad_mirror = tmp_path / "mirror"
    bad_mirror.mkdir()
    (bad_mirror / "o200k_base.tiktoken").write_bytes(b"tampered\n")
    env = offline_pip_env(tmp_path / "home", build_wheelhouse, HARMONY_VOCAB_SOURCE_DIR=str(bad_mirror),
                          HARMONY_VOCAB_OFFLINE="1", HARMONY_VOCAB_CACHE_DIR=str(tmp_path / "cache"))
    proc = run(offline([PYTHON, "-m", "build", "--wheel", "-o", tmp_path / "out", tree]),
               env=env, check=False)
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert "no verified copy of o200k_base.tiktoken" in text
    assert f"{bad_mirror}/o200k_base.tiktoken: size mismatch: expected 3613922 bytes, got 9" in text
    assert "HARMONY_VOCAB_OFFLINE=1" in text and "HARMONY_VOCAB_SOURCE_DIR" in text
    assert list((tmp_path / "out").glob("*.whl")) == []  # (no out/ at all globs to [] too)
    assert not list((tree / "src/harmony_vocab/data").glob("*.tiktoken"))


def test_editable_install_finds_the_vocab(
    dist: Dict[str, Path], build_wheelhouse: Path, tmp_path: Path
) -> None:
    tree = clean_tree(dist, tmp_path)
    venv = tmp_path / "venv"
    run([PYTHON, "-m", "venv", venv])
    env = offline_pip_env(tmp_path / "home", build_wheelhouse, HARMONY_VOCAB_SOURCE_DIR=str(SHARED_VOCAB),
                          HARMONY_VOCAB_OFFLINE="1")
    run(offline([venv_python(venv), "-m", "pip", "install", "-q", "-e", tree]), env=env)
    code = ("import os, harmony_vocab as hv; r = hv.resolve('o200k_base');"
            "print(r.tier, r.path, os.environ.get('TIKTOKEN_ENCODINGS_BASE'))")
    out = run(offline([venv_python(venv), "-c", code]), env=clean_env(tmp_path / "home2")).stdout.split()
    data = tree / "src/harmony_vocab/data"
    # The start-up registration works from an editable install too: it finds the source tree.
    assert out == ["package", str(data / "o200k_base.tiktoken"), str(data)]
