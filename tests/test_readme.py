"""Every command README.md shows is run here, in README order, so the guide cannot go stale.

Fenced blocks are told apart by their info string:
- ``sh``: run with bash in a "connected" venv (PyPI reachable), from a copy of the project with
  ``../shared/vocab`` beside it, as in the README; the first one is the README's first command,
  whose ``doctor`` must show both tools loading offline;
- ``sh air-gapped``: run with bash under ``unshare -n`` in a second, fresh venv (the air-gapped
  machine), from the same folder (so it sees the ``wheelhouse`` the connected steps made): the
  offline build of both wheels takes its build requirements from that wheelhouse alone;
- ``sh mirror``: run in the connected venv with ``HARMONY_VOCAB_BASE_URL`` pointing at a local
  HTTP server that serves the vocab files (the "internal mirror");
- ``sh test-command``: the test command itself; CI runs it (``.ci/run``), so here it is only
  checked to be the very line ``.ci/run`` runs;
- ``dockerfile``: its ``RUN`` lines run, with its ``ENV`` settings, under ``unshare -n`` in a third
  fresh venv whose working folder holds the wheelhouse (``FROM``, ``WORKDIR`` and ``COPY`` are what
  that venv and folder stand in for: no container engine runs here);
- ``python``: run at the end in the air-gapped venv, offline.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from harmony_vocab.tiers import tiers_table
from support import PYTHON, ROOT, SHARED_VOCAB, clean_env, offline, run, venv_python

FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```", re.S | re.M)


def blocks() -> List[Tuple[str, str]]:
    return [(info.strip(), body) for info, body in FENCE.findall((ROOT / "README.md").read_text())]


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_command() -> None:
    found = blocks()
    assert [info for info, _ in found[:2]] == ["sh", "sh test-command"]
    test_command = found[1][1].strip()
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_readme_table_of_the_lookup_order_is_the_one_tiers_makes() -> None:
    assert tiers_table().strip() in (ROOT / "README.md").read_text()


@pytest.mark.integration
def test_every_readme_command_works(tmp_path: Path, httpserver) -> None:  # type: ignore[no-untyped-def]
    from conftest import copy_tree

    work = tmp_path / "work"
    project = copy_tree(work / "harmony-vocab")
    (work / "shared").mkdir()
    (work / "shared" / "vocab").symlink_to(SHARED_VOCAB)
    for name in ("o200k_base.tiktoken", "cl100k_base.tiktoken"):
        httpserver.expect_request(f"/encodings/{name}").respond_with_data((SHARED_VOCAB / name).read_bytes())

    venvs: Dict[str, Path] = {}

    def venv(kind: str) -> Path:
        if kind not in venvs:
            venvs[kind] = tmp_path / f"venv-{kind}"
            run([PYTHON, "-m", "venv", venvs[kind]])
        return venvs[kind]

    def shell(script: str, kind: str, cwd: Path, is_offline: bool, **extra: str) -> str:
        bindir = venv(kind) / "bin"
        env = clean_env(tmp_path / f"home-{kind}", VIRTUAL_ENV=str(venv(kind)), **extra)
        env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
        cmd = ["bash", "-euo", "pipefail", "-c", script]
        proc = run(offline(cmd) if is_offline else cmd, env=env, cwd=cwd, check=False)
        assert proc.returncode == 0, f"README block failed ({kind}):\n{script}\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    python_blocks = []
    first = True
    for info, body in blocks():
        if info == "sh":
            out = shell(body, "connected", project, False)
            if first:  # install with both tools, then doctor: each loads o200k_base offline
                assert "unmodified openai-harmony: offline" in out and "unmodified tiktoken: offline" in out, out
                first = False
        elif info == "sh air-gapped":
            shell(body, "air-gapped", project, True)
        elif info == "sh mirror":
            shell(body, "connected", project, False,
                  HARMONY_VOCAB_BASE_URL=httpserver.url_for("/encodings/"))
        elif info == "dockerfile":
            image = tmp_path / "image"
            image.mkdir()
            shutil.copytree(project / "wheelhouse", image / "wheelhouse")
            env: Dict[str, str] = {}
            for line in body.splitlines():
                instruction, _, rest = line.partition(" ")
                if instruction == "ENV":
                    key, _, value = rest.partition("=")
                    env[key] = value
                elif instruction == "RUN":
                    shell(rest, "image", image, True, **env)
                else:
                    assert instruction in ("FROM", "WORKDIR", "COPY", ""), line
        elif info == "python":
            python_blocks.append(body)
        else:
            assert info == "sh test-command", f"README block with unknown info string {info!r}"
    for body in python_blocks:
        proc = run(offline([venv_python(venv("air-gapped")), "-c", body]),
                   env=clean_env(tmp_path / "home-py"), cwd=project)
        assert "package" in proc.stdout
    for name in ("harmony_vocab-*.whl", "harmony_vocab_legacy-*.whl", "hatchling-*.whl"):
        assert len(list((project / "wheelhouse").glob(name))) == 1, name
    # the air-gapped build made both wheels, from the wheelhouse alone
    assert sorted(p.name.split("-")[0] for p in (project / "dist").glob("*.whl")) == ["harmony_vocab",
                                                                                       "harmony_vocab_legacy"]
