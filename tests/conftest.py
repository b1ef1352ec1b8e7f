"""Fixtures: an isolated environment for every test, synthetic pins, and (for integration tests)
the real wheel built once per session with no network, plus venvs that have it installed."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest

import harmony_vocab.download
import harmony_vocab.lookup
import harmony_vocab.pins
import harmony_vocab.tiers
from harmony_vocab.pins import Pin
from lookup import VOCAB_BYTES, World
from support import (
    HF_PRODUCER,
    HUB_COMMIT,
    HUB_REPOS,
    HUB_TWO_REVISIONS,
    PYTHON,
    ROOT,
    Handler,
    RawServer,
    SHARED_VOCAB,
    STEERING_PREFIXES,
    clean_env,
    make_pin,
    make_vocab,
    HubCache,
    offline,
    run,
    venv_python,
)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """No steering variable leaks in; caches and temp dirs live in a fresh folder; nothing
    verified by an earlier test is trusted."""
    home = tmp_path_factory.mktemp("home")
    for key in list(os.environ):
        if key.startswith(STEERING_PREFIXES):
            monkeypatch.delenv(key)
    (home / "tmp").mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(home / "tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(home / "tmp"))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hf-hub"))
    harmony_vocab.lookup.reset()
    # requests honours *_proxy variables: local test servers must be reached directly (a proxy
    # stays in place for what needs it, pip reaching the package index).
    for key in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(key, ",".join(filter(None, [os.environ.get(key), "127.0.0.1", "localhost"])))
    return home


@pytest.fixture(scope="session")
def httpserver_listen_address() -> Tuple[str, int]:
    """pytest-httpserver listens on 127.0.0.1 (not "localhost", which may resolve to ::1)."""
    return ("127.0.0.1", 0)


@pytest.fixture
def raw_server() -> Iterator[Callable[[Handler], RawServer]]:
    """Start `RawServer`s on 127.0.0.1 with the given handlers; all closed at teardown."""
    servers: List[RawServer] = []

    def start(handler: Handler) -> RawServer:
        server = RawServer(handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def synthetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Dict[str, Tuple[Pin, bytes]]:
    """Replace the real pins with small synthetic vocabs of the same names, and make the package
    tier an empty directory of the test's own (``tmp_path / "package"``).

    Returns ``{name: (pin, bytes)}``.
    """
    out = {}
    for seed, name in enumerate(("o200k_base", "cl100k_base")):
        data = make_vocab(260 + 40 * seed, seed=seed)
        pin = make_pin(name, data)
        monkeypatch.setitem(harmony_vocab.pins.PINS, name, pin)
        out[name] = (pin, data)
    package = tmp_path / "package"
    package.mkdir()
    monkeypatch.setattr(harmony_vocab.tiers, "data_dir", lambda wheel: str(package))
    return out


# ---------------------------------------------------------------- lookup scenarios

LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> List[object]:
    """Record every outgoing connection and name lookup; refuse any that is not 127.0.0.1 (the
    lookup tests use it for every test: ``pytestmark = pytest.mark.usefixtures("connections")``)."""
    seen: List[object] = []
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        seen.append(address)
        host = address[0] if isinstance(address, tuple) else None
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in LOCAL_HOSTS:
            raise OSError(f"test guard: no network, refused {address!r}")
        return real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(("getaddrinfo", host))
        if host not in LOCAL_HOSTS and host is not None:
            raise socket.gaierror(f"test guard: no network, refused lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(harmony_vocab.download, "BACKOFF", 0.0)
    return seen


@pytest.fixture
def world(synthetic: Dict[str, Tuple[Pin, bytes]], monkeypatch: pytest.MonkeyPatch,
          tmp_path: Path) -> World:
    for name, (_pin, data) in synthetic.items():
        monkeypatch.setitem(VOCAB_BYTES, name, data)
    return World(tmp_path / "world", monkeypatch)


@pytest.fixture
def vocab() -> Tuple[Pin, bytes]:
    """One small synthetic o200k_base vocab and its pin (the real pins stay in place)."""
    data = make_vocab(400, seed=7)
    return make_pin("o200k_base", data), data


# ---------------------------------------------------------------- integration: the real wheel

@pytest.fixture(scope="session")
def build_wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build requirements as wheels: what an air-gapped site keeps in its wheelhouse."""
    house = tmp_path_factory.mktemp("build-wheelhouse")
    run([PYTHON, "-m", "pip", "download", "-q", "-d", house,
         "hatchling>=1.21", "requests>=2.28", "tomli>=1.1", "editables~=0.3", "build>=1.0"])
    return house


def copy_tree(dest: Path) -> Path:
    """A copy of the project as a clean clone has it: no built vocab files, no caches."""
    ignore = shutil.ignore_patterns("data", "_pins.py", "*.part", "__pycache__", ".git", "dist", ".venv*",
                                    ".pytest_cache", ".nox", ".work", "*.egg-info")
    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)
    return dest


@pytest.fixture(scope="session")
def offline_build(build_wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Build a wheel and/or sdist of `source` with no network (``unshare -n``), the build
    requirements coming from the wheelhouse. Returns the output directory."""

    def build(source: Path, out: Path, *args: str, **env: str) -> Path:
        home = tmp_path_factory.mktemp("build-home")
        environ = clean_env(home, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(build_wheelhouse), **env)
        run(offline([PYTHON, "-m", "build", "-o", out, *args, source]), env=environ)
        return out

    return build


@pytest.fixture(scope="session")
def dist(offline_build: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    """The real sdist and wheel, built once from a clean copy of the tree, offline, from the
    local mirror (../shared/vocab)."""
    if not SHARED_VOCAB.is_dir():
        pytest.skip(f"no local vocab mirror at {SHARED_VOCAB}")
    base = tmp_path_factory.mktemp("dist")
    tree = copy_tree(base / "tree")
    out = offline_build(tree, base / "out", HARMONY_VOCAB_SOURCE_DIR=str(SHARED_VOCAB),
                        HARMONY_VOCAB_OFFLINE="1")
    (wheel,) = out.glob("harmony_vocab-*.whl")
    (sdist,) = out.glob("harmony_vocab-*.tar.gz")
    legacy = offline_build(tree / "legacy", base / "legacy-out", HARMONY_VOCAB_SOURCE_DIR=str(SHARED_VOCAB),
                           HARMONY_VOCAB_OFFLINE="1")
    (legacy_wheel,) = legacy.glob("*.whl")
    (legacy_sdist,) = legacy.glob("*.tar.gz")
    return {"wheel": wheel, "sdist": sdist, "tree": tree, "legacy_wheel": legacy_wheel, "legacy_sdist": legacy_sdist}


@pytest.fixture(scope="session")
def make_venv(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Create a fresh venv with the test's Python and pip-install `packages` into it."""

    def make(*packages: str) -> Path:
        venv = tmp_path_factory.mktemp("venv")
        run([PYTHON, "-m", "venv", venv])
        if packages:
            run([venv_python(venv), "-m", "pip", "install", "-q", *packages])
        return venv

    return make


@pytest.fixture(scope="session")
def wheel_venv(dist: Dict[str, Path], make_venv: Callable[..., Path]) -> Path:
    """A fresh venv with only the built wheel installed."""
    return make_venv(str(dist["wheel"]))


@pytest.fixture(scope="session")
def companion_venv(dist: Dict[str, Path], make_venv: Callable[..., Path]) -> Path:
    """A fresh venv with both built wheels (core and companion), openai-harmony 0.0.8 and tiktoken."""
    return make_venv(str(dist["wheel"]), str(dist["legacy_wheel"]), "openai-harmony==0.0.8", "tiktoken")


@pytest.fixture(scope="session")
def full_venv(dist: Dict[str, Path], make_venv: Callable[..., Path]) -> Path:
    """A fresh venv with the built wheel, the real openai-harmony 0.0.8 and tiktoken from PyPI."""
    return make_venv(str(dist["wheel"]), "openai-harmony==0.0.8", "tiktoken")


# ---------------------------------------------------------------- Hugging Face's own tools

@pytest.fixture(scope="session")
def hf_python(make_venv: Callable[..., Path]) -> Path:
    """A venv of Hugging Face's own tools from PyPI (transformers, tokenizers, huggingface_hub;
    tiktoken and openai-harmony for the converter's input), never ours: it runs hf_producer.py."""
    return venv_python(make_venv("transformers", "tokenizers", "huggingface_hub", "tiktoken",
                                 "openai-harmony==0.0.8"))


@pytest.fixture(scope="session")
def hf_hub(hf_python: Path, tmp_path_factory: pytest.TempPathFactory) -> HubCache:
    """A Hugging Face hub cache written by huggingface_hub itself, offline (hf_hub_download from a
    hub on 127.0.0.1, under ``unshare -n``), made once per session:

    - for each vocab, a repo holding only the tokenizer.json that transformers' TikTokenConverter
      makes of the real vocab with the GPT-OSS special tokens, saved by tokenizers
      (openai/gpt-oss-20b for o200k_base, HUB_REPOS for both);
    - HUB_TWO_REVISIONS: the real o200k_base.tiktoken at the root of an older snapshot, and in
      original/ of the one refs/main names (whose name sorts after the older one's).
    """
    if not SHARED_VOCAB.is_dir():
        pytest.skip(f"no local vocab mirror at {SHARED_VOCAB}")
    base = tmp_path_factory.mktemp("hf-hub")
    hub = HubCache(cache=base / "hub")
    # openai-harmony (for the special tokens) reads the vocab from the mirror, never the network.
    env = clean_env(base / "home", TIKTOKEN_ENCODINGS_BASE=str(SHARED_VOCAB))

    def publish(repo_id: str, commit: str, files: Dict[str, Path]) -> None:
        tree = base / "published" / commit
        for rel, source in files.items():
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, tree / rel)
        run(offline([hf_python, HF_PRODUCER, "publish", hub.cache, repo_id, commit, *files]), env=env, cwd=tree)
        shutil.rmtree(tree)  # huggingface_hub's blobs are the only copies kept

    for name, repo_id in HUB_REPOS.items():
        made = base / f"{name}.tokenizer.json"
        run(offline([hf_python, HF_PRODUCER, "convert", SHARED_VOCAB / f"{name}.tiktoken", made]), env=env)
        publish(repo_id, HUB_COMMIT, {"tokenizer.json": made})
        made.unlink()
    o200k = SHARED_VOCAB / "o200k_base.tiktoken"
    repo_id, older, main = HUB_TWO_REVISIONS
    publish(repo_id, older, {"o200k_base.tiktoken": o200k})
    publish(repo_id, main, {"original/o200k_base.tiktoken": o200k})
    return hub


def pytest_report_header() -> str:
    return f"python {sys.version.split()[0]}; vocab mirror: {SHARED_VOCAB}"
