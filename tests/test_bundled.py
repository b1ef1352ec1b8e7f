"""The packaged files are found through the package itself: on disk, and from a zip import."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import harmony_vocab
from harmony_vocab import UnknownVocabError, bundled_dir, bundled_path
from support import ROOT


def test_bundled_dir_is_the_package_data_directory() -> None:
    assert bundled_dir() == Path(harmony_vocab.__file__).parent / "data"
    assert bundled_path("o200k_base") == bundled_dir() / "o200k_base.tiktoken"
    assert bundled_path("cl100k_base.tiktoken") == bundled_dir() / "cl100k_base.tiktoken"


@pytest.mark.parametrize("bad", ["o200k", "../x", "/etc/passwd", "", "data/o200k_base"])
def test_bundled_path_rejects_anything_but_a_known_name(bad: str) -> None:
    with pytest.raises(UnknownVocabError, match="o200k_base, cl100k_base"):
        bundled_path(bad)


def test_bundled_files_from_a_zip_import_are_extracted(tmp_path: Path) -> None:
    archive = tmp_path / "site.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for source in (ROOT / "src" / "harmony_vocab").glob("*.py"):
            zf.write(source, f"harmony_vocab/{source.name}")
        zf.writestr("harmony_vocab/data/o200k_base.tiktoken", b"IQ== 0\n")
    code = (
        "import harmony_vocab as hv; d = hv.bundled_dir(); p = hv.bundled_path('o200k_base');"
        "print(d.is_dir(), p.read_bytes() == b'IQ== 0\\n', str(p).startswith(str(d)), '.zip' in str(p))"
    )
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(archive)},
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True", "True", "False"]
