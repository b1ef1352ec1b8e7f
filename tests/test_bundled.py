"""The packaged files are found through the package itself (like ``certifi.where()``): on disk, in
the companion's package for its vocabs, and from a zip import."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict

import pytest

import harmony_vocab
from harmony_vocab import VOCABS, bundled_dir, bundled_path, verify_file
from harmony_vocab.errors import UnknownVocabError
from harmony_vocab.pins import PINS
from support import ROOT, clean_env, run, venv_python


def test_bundled_dir_is_the_package_data_directory_and_its_files_verify() -> None:
    assert bundled_dir() == Path(harmony_vocab.__file__).parent / "data"
    core = [name for name, pin in PINS.items() if pin.wheel == "core"]
    assert core == ["o200k_base", "cl100k_base"]
    for name in core:
        assert bundled_path(name) == bundled_dir() / f"{name}.tiktoken"
        assert bundled_path(f"{name}.tiktoken") == bundled_path(name)
        verify_file(bundled_path(name), name)


@pytest.mark.parametrize("bad", ["o200k", "../x", "/etc/passwd", "", "data/o200k_base", "vocab.bpe"])
def test_bundled_path_rejects_anything_but_a_known_name(bad: str) -> None:
    with pytest.raises(UnknownVocabError, match=", ".join(VOCABS)):
        bundled_path(bad)


@pytest.mark.integration
def test_companion_vocabs_are_in_the_companion_package(companion_venv: Path, tmp_path: Path) -> None:
    code = ("import json, harmony_vocab as hv, harmony_vocab_legacy as c\n"
            "out = {n: [str(hv.bundled_path(n)), str(hv.bundled_dir(hv.get_pin(n).wheel))] for n in hv.VOCABS}\n"
            "for n in hv.VOCABS: hv.verify_file(hv.bundled_path(n), n)\n"
            "print(json.dumps([out, c.__file__, hv.__file__]))")
    out, legacy_init, core_init = json.loads(run([venv_python(companion_venv), "-c", code],
                                                 env=clean_env(tmp_path)).stdout)
    where: Dict[str, str] = {"core": str(Path(core_init).parent / "data"),
                             "legacy": str(Path(legacy_init).parent / "data")}
    for name, (path, directory) in out.items():
        assert directory == where[PINS[name].wheel]
        assert path == str(Path(directory) / PINS[name].files[0].name)


def test_bundled_files_from_a_zip_import_are_extracted(tmp_path: Path) -> None:
    """The package imported from a zip alone (``python -S``: not even the editable install's path
    is seen) extracts the files it ships to a real directory."""
    archive = tmp_path / "site.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for source in (ROOT / "src" / "harmony_vocab").glob("*.py"):
            zf.write(source, f"harmony_vocab/{source.name}")
        zf.writestr("harmony_vocab/data/o200k_base.tiktoken", b"IQ== 0\n")
    code = (
        "import harmony_vocab as hv; d = hv.bundled_dir(); p = hv.bundled_path('o200k_base');"
        "print(hv.__file__); print(d.is_dir(), p.read_bytes() == b'IQ== 0\\n', str(p).startswith(str(d)),"
        " '.zip' in str(p))"
    )
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    proc = subprocess.run([sys.executable, "-S", "-c", code], env={"PYTHONPATH": str(archive)}, cwd=cwd,
                          capture_output=True, text=True, check=True)
    origin, flags = proc.stdout.splitlines()
    assert origin.startswith(str(archive) + "/"), origin
    assert flags.split() == ["True", "True", "True", "False"]
