"""The build hook (hatch_build.py) on small synthetic files, in a temporary project of its own.

The project holds a synthetic manifest with both wheels (core: two one-file vocabs; legacy: a
two-file vocab laid out as on the blob store, ``gpt-2/encodings/main/...``), ``src/`` and a
``legacy/`` folder linking to the manifest, as the repository does. `hatch_build.CORE_SRC` points
at the project's ``src/``, so nothing is ever written into the real tree. HTTP goes to 127.0.0.1
only; the manifest's https:// URLs point at a closed port there (refused at once).
"""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from pytest_httpserver import HTTPServer

import harmony_vocab.download
from support import ROOT, make_vocab

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
import hatch_build  # noqa: E402
from hatch_build import BuildSetupError  # noqa: E402

# vocab -> (wheel, [(file name, path below the URL root)])
LAYOUT = {
    "o200k_base": ("core", [("o200k_base.tiktoken", "encodings/o200k_base.tiktoken")]),
    "cl100k_base": ("core", [("cl100k_base.tiktoken", "encodings/cl100k_base.tiktoken")]),
    "gpt2": ("legacy", [("vocab.bpe", "gpt-2/encodings/main/vocab.bpe"),
                        ("encoder.json", "gpt-2/encodings/main/encoder.json")]),
}
PACKAGE = {"core": "harmony_vocab", "legacy": "harmony_vocab_legacy"}


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]


def tamper(data: bytes) -> bytes:
    """Same size, different bytes."""
    return data[:50] + (b"A" if data[50:51] != b"A" else b"B") + data[51:]


def files_in(directory: Path) -> List[str]:
    return sorted(os.listdir(directory)) if directory.exists() else []


class Project:
    """A temporary project: synthetic manifest, src/, legacy/ (linking to the manifest)."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        port = closed_port()
        self.files: Dict[str, Tuple[Dict[str, Any], bytes, str]] = {}  # name -> (entry, bytes, url path)
        lines = ['[wheel.core]\ndistribution = "harmony-vocab"\npackage = "harmony_vocab"\n',
                 '[wheel.legacy]\ndistribution = "harmony-vocab-legacy"\npackage = "harmony_vocab_legacy"\n']
        for seed, (vocab, (wheel, files)) in enumerate(LAYOUT.items()):
            rendered = []
            for name, url_path in files:
                data = make_vocab(280 + 30 * seed + len(name), seed=10 + seed + len(name))
                entry = {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                         "urls": [f"https://127.0.0.1:{port}/{url_path}"]}
                self.files[name] = (entry, data, url_path)
                rendered.append(f'{{ name = "{name}", sha256 = "{entry["sha256"]}", size = {entry["size"]}, '
                                f'urls = ["{entry["urls"][0]}"] }}')
            harmony = "harmony = true\n" if vocab == "o200k_base" else ""
            lines.append(f'[vocab.{vocab}]\nwheel = "{wheel}"\n{harmony}files = [{", ".join(rendered)}]\n')
        self.manifest = root / "vocab_manifest.toml"
        self.manifest.write_text("\n".join(lines))
        (root / "src" / "harmony_vocab").mkdir(parents=True)
        # the download code, found beside the hook as in the repository
        (root / "src" / "harmony_vocab" / "download.py").symlink_to(ROOT / "src/harmony_vocab/download.py")
        (root / "legacy" / "src" / "harmony_vocab_legacy").mkdir(parents=True)
        (root / "legacy" / "vocab_manifest.toml").symlink_to("../vocab_manifest.toml")
        self.cache = root.parent / "cache"
        self.mirror = root.parent / "mirror"
        self.messages: List[str] = []
        monkeypatch.setattr(hatch_build, "CORE_SRC", root / "src")
        monkeypatch.setattr(sys, "path", list(sys.path))  # _download puts CORE_SRC first

    def data(self, wheel: str) -> Path:
        base = self.root if wheel == "core" else self.root / "legacy"
        return base / "src" / PACKAGE[wheel] / "data"

    def names(self, wheel: str) -> List[str]:
        return [name for vocab, (w, files) in LAYOUT.items() if w == wheel for name, _ in files]

    def env(self, **extra: str) -> Dict[str, str]:
        return {"HARMONY_VOCAB_CACHE_DIR": str(self.cache), **extra}

    def prepare(self, wheel: str = "core", **extra: str) -> List[Path]:
        root = self.root if wheel == "core" else self.root / "legacy"
        return hatch_build.prepare(root, wheel, self.env(**extra), self.messages.append)

    def fill(self, directory: Path, by_url_path: bool = False, good: bool = True) -> None:
        for name, (_entry, data, url_path) in self.files.items():
            target = directory / (url_path if by_url_path else name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data if good else tamper(data))

    def assert_built(self, wheel: str) -> None:
        assert files_in(self.data(wheel)) == sorted(self.names(wheel))
        for name in self.names(wheel):
            assert (self.data(wheel) / name).read_bytes() == self.files[name][1]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setattr(harmony_vocab.download, "TRIES", 1)
    monkeypatch.setattr(harmony_vocab.download, "BACKOFF", 0.0)
    monkeypatch.setattr(harmony_vocab.download, "CONNECT_TIMEOUT", 2.0)
    monkeypatch.setattr(harmony_vocab.download, "READ_TIMEOUT", 2.0)
    (tmp_path / "root").mkdir()
    return Project(tmp_path / "root", monkeypatch)


class NoSockets:
    """Records (and refuses) every attempt to create a socket or resolve a name."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: List[str] = []
        for attr in ("socket", "create_connection", "getaddrinfo"):
            monkeypatch.setattr(socket, attr, self._refuse(attr))

    def _refuse(self, attr: str) -> Any:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(attr)
            raise OSError(errno.EACCES, f"socket.{attr} blocked by the test")

        return refuse


# ---------------------------------------------------------------- obtain: the sources, in order

SOURCES = ["mirror", "mirror by URL path", "data directory", "cache", "download"]


@pytest.mark.parametrize("winner", SOURCES)
def test_first_verified_source_wins_and_tampered_earlier_ones_are_passed_over(
    project: Project, httpserver: HTTPServer, winner: str
) -> None:
    """Sources before the winner hold a tampered copy; the winner and every later one a good
    copy: the winner's bytes land in the data directory, the earlier copies stay as they were."""
    entry, data, url_path = project.files["o200k_base.tiktoken"]
    data_dir = project.data("core")
    places = {"mirror": project.mirror / entry["name"], "mirror by URL path": project.mirror / url_path,
              "data directory": data_dir / entry["name"], "cache": project.cache / entry["name"]}
    win = SOURCES.index(winner)
    for i, source in enumerate(SOURCES[:4]):
        places[source].parent.mkdir(parents=True, exist_ok=True)
        places[source].write_bytes(data if i >= win else tamper(data))
    httpserver.expect_request("/v/" + entry["name"]).respond_with_data(data)

    path = hatch_build.obtain(entry, data_dir, project.env(
        HARMONY_VOCAB_SOURCE_DIR=str(project.mirror), HARMONY_VOCAB_BASE_URL=httpserver.url_for("/v/")),
        project.messages.append)

    assert path == data_dir / entry["name"] and path.read_bytes() == data
    assert len(httpserver.log) == (1 if winner == "download" else 0)
    for source in SOURCES[:win]:
        if source == "data directory" or (source == "cache" and winner == "download"):
            assert places[source].read_bytes() == data  # the target; the download's landing place
        else:
            assert places[source].read_bytes() == tamper(data), f"{source} was modified"
    assert files_in(data_dir) == [entry["name"]], "no temporary file is left"


def test_tampered_mirror_is_refused_listing_every_source(project: Project) -> None:
    entry, data, url_path = project.files["o200k_base.tiktoken"]
    bad = tamper(data)
    (project.mirror).mkdir()
    (project.mirror / entry["name"]).write_bytes(bad)
    data_dir = project.data("core")
    data_dir.mkdir(parents=True)

    with pytest.raises(BuildSetupError) as info:
        hatch_build.obtain(entry, data_dir, project.env(HARMONY_VOCAB_SOURCE_DIR=str(project.mirror),
                                                        HARMONY_VOCAB_OFFLINE="1"), project.messages.append)

    message = str(info.value)
    listed = [f"{project.mirror / entry['name']}: sha256 {hashlib.sha256(bad).hexdigest()}",
              f"{project.mirror / url_path}: missing", f"{data_dir / entry['name']}: missing",
              f"{project.cache / entry['name']}: missing", "download: not allowed: HARMONY_VOCAB_OFFLINE=1"]
    positions = [message.find(line) for line in listed]
    assert -1 not in positions, message
    assert positions == sorted(positions), "sources are listed in the order they were tried"
    assert entry["sha256"] in message and "HARMONY_VOCAB_SOURCE_DIR" in message
    assert (project.mirror / entry["name"]).read_bytes() == bad, "the mirror is never modified"
    assert files_in(data_dir) == []


def test_rejected_data_directory_file_is_removed(project: Project) -> None:
    """A tampered file already in the data directory fails the build and is removed, so that no
    packaging step (or editable install) picks it up later."""
    entry, data, _ = project.files["o200k_base.tiktoken"]
    data_dir = project.data("core")
    data_dir.mkdir(parents=True)
    (data_dir / entry["name"]).write_bytes(tamper(data))
    with pytest.raises(BuildSetupError, match="sha256"):
        hatch_build.obtain(entry, data_dir, project.env(HARMONY_VOCAB_OFFLINE="1"), project.messages.append)
    assert files_in(data_dir) == []


def test_failed_download_names_each_url_and_leaves_nothing(project: Project, httpserver: HTTPServer) -> None:
    entry, _, _ = project.files["o200k_base.tiktoken"]
    httpserver.expect_request("/v/" + entry["name"]).respond_with_data("", status=404)
    base = httpserver.url_for("/v/")
    data_dir = project.data("core")
    data_dir.mkdir(parents=True)

    with pytest.raises(BuildSetupError) as info:
        hatch_build.obtain(entry, data_dir, project.env(HARMONY_VOCAB_BASE_URL=base), project.messages.append)

    message = str(info.value)
    assert message.index(base + entry["name"]) < message.index(entry["urls"][0]), message
    assert "404" in message and "HARMONY_VOCAB_BASE_URL" in message
    assert files_in(data_dir) == [] and files_in(project.cache) == []


def test_download_lands_in_the_cache_and_the_next_build_needs_no_network(
    project: Project, httpserver: HTTPServer
) -> None:
    for name, (_entry, data, _) in project.files.items():
        httpserver.expect_request("/v/" + name).respond_with_data(data)
    project.prepare(HARMONY_VOCAB_BASE_URL=httpserver.url_for("/v/"))
    project.assert_built("core")
    assert files_in(project.cache) == sorted(project.names("core"))
    assert len(httpserver.log) == 2
    # a clean tree, offline: the cache serves
    for name in project.names("core"):
        (project.data("core") / name).unlink()
    project.prepare(HARMONY_VOCAB_OFFLINE="1")
    project.assert_built("core")
    assert len(httpserver.log) == 2


def test_offline_build_opens_no_socket(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    sockets = NoSockets(monkeypatch)
    with pytest.raises(BuildSetupError) as info:
        project.prepare(HARMONY_VOCAB_OFFLINE="1")
    assert sockets.calls == []
    assert "HARMONY_VOCAB_OFFLINE=1 forbids every download" in str(info.value)
    assert files_in(project.data("core")) == [] and files_in(project.cache) == []


def test_the_socket_spy_does_see_a_download(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Control for the test above: without HARMONY_VOCAB_OFFLINE the same build reaches for a
    socket, so an empty record there means no network was tried."""
    sockets = NoSockets(monkeypatch)
    with pytest.raises(BuildSetupError, match="blocked by the test"):
        project.prepare()
    assert sockets.calls
    assert files_in(project.data("core")) == [] and files_in(project.cache) == []


# ---------------------------------------------------------------- prepare: each wheel its own files

def test_core_and_legacy_each_place_exactly_their_files(project: Project) -> None:
    project.fill(project.mirror, by_url_path=True)  # laid out as the blob store: gpt-2/encodings/main/

    core = project.prepare("core", HARMONY_VOCAB_SOURCE_DIR=str(project.mirror), HARMONY_VOCAB_OFFLINE="1")
    legacy = project.prepare("legacy", HARMONY_VOCAB_SOURCE_DIR=str(project.mirror), HARMONY_VOCAB_OFFLINE="1")

    assert core == [project.data("core") / n for n in project.names("core")]
    assert legacy == [project.data("legacy") / n for n in project.names("legacy")]
    project.assert_built("core")
    project.assert_built("legacy")
    pins = project.root / "src" / "harmony_vocab" / "_pins.py"
    assert pins.read_text() == hatch_build.render_pins(hatch_build.load_manifest(project.manifest))
    namespace: Dict[str, Any] = {}
    exec(pins.read_text(), namespace)
    assert [f["name"] for f in namespace["PINS"]["gpt2"]["files"]] == ["vocab.bpe", "encoder.json"]
    assert namespace["WHEELS"]["legacy"]["package"] == "harmony_vocab_legacy"
    assert files_in(project.cache) == []


def test_relative_mirror_is_found_from_the_companion_folder(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pip wheel . ./legacy`` builds the companion in legacy/: a mirror given relative to the
    repository (where the command was typed) still serves it."""
    project.fill(project.root / "shared", by_url_path=True)
    monkeypatch.chdir(project.root / "legacy")
    project.prepare("legacy", HARMONY_VOCAB_SOURCE_DIR="shared", HARMONY_VOCAB_OFFLINE="1")
    project.assert_built("legacy")


@pytest.mark.parametrize("kind", ["file", "missing"])
def test_mirror_that_is_not_a_directory_names_the_setting(project: Project, tmp_path: Path, kind: str) -> None:
    target = tmp_path / "not-a-dir"
    if kind == "file":
        target.write_text("")
    with pytest.raises(BuildSetupError) as info:
        project.prepare(HARMONY_VOCAB_SOURCE_DIR=str(target))
    assert f"HARMONY_VOCAB_SOURCE_DIR={str(target)!r} is not a directory" in str(info.value)
    assert files_in(project.data("core")) == []


def test_unknown_wheel_option_names_it(project: Project) -> None:
    with pytest.raises(BuildSetupError, match="wheel = 'legacyy' names no"):
        project.prepare("legacyy")


@pytest.mark.parametrize(
    "old, new, says",
    [
        ('wheel = "legacy"', 'wheel = "extra"', "wheel must be one of core, legacy"),
        ("harmony = true\n", "", "exactly one vocab must say harmony = true"),
        ('sha256 = "', 'sha256 = "X', "each file needs name, sha256"),
        ("size = ", "size = -", "each file needs name, sha256"),
        ('urls = ["https://', 'urls = ["http://', "each file needs name, sha256"),
        ("[vocab.gpt2]", "[vocab.GPT2]", "the name must be lowercase"),
        ("[vocab.gpt2]\n", "[vocab.gpt2]\nmd5 = 'x'\n", "unknown keys ['md5']"),
    ],
)
def test_manifest_errors_fail_before_anything_is_written(project: Project, old: str, new: str, says: str) -> None:
    text = project.manifest.read_text()
    assert old in text
    project.manifest.write_text(text.replace(old, new, 1))
    project.fill(project.mirror)
    with pytest.raises(BuildSetupError) as info:
        project.prepare(HARMONY_VOCAB_SOURCE_DIR=str(project.mirror))
    assert says in str(info.value) and str(project.manifest) in str(info.value)
    assert not (project.root / "src" / "harmony_vocab" / "_pins.py").exists()
    assert files_in(project.data("core")) == []


@pytest.mark.parametrize("text, says", [("[vocab.o200k_base\n", "is not valid TOML"),
                                        ("[other]\nx = 1\n", "expected [wheel.<name>] tables")])
def test_malformed_manifest(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "vocab_manifest.toml"
    path.write_text(text)
    with pytest.raises(BuildSetupError, match=r".*") as info:
        hatch_build.load_manifest(path)
    assert says in str(info.value) and str(path) in str(info.value)


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(BuildSetupError, match="cannot read the manifest"):
        hatch_build.load_manifest(tmp_path / "vocab_manifest.toml")


# ---------------------------------------------------------------- the hatchling hook

class FakeApp:
    def __init__(self) -> None:
        self.info: List[str] = []
        self.errors: List[str] = []

    def display_info(self, message: str) -> None:
        self.info.append(message)

    def display_error(self, message: str) -> None:
        self.errors.append(message)


def hook(root: Path, config: Dict[str, Any], app: FakeApp) -> Any:
    return hatch_build.VocabBuildHook(str(root), config, None, None, str(root / "dist"), "wheel", app=app)


def test_hook_builds_the_wheel_its_option_names(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project.fill(project.mirror, by_url_path=True)
    for key, value in project.env(HARMONY_VOCAB_SOURCE_DIR=str(project.mirror), HARMONY_VOCAB_OFFLINE="1").items():
        monkeypatch.setenv(key, value)
    app = FakeApp()
    hook(project.root / "legacy", {"path": "hatch_build.py", "wheel": "legacy"}, app).initialize("standard", {})
    project.assert_built("legacy")
    assert files_in(project.data("core")) == [], "the companion's build places none of the core's files"
    hook(project.root, {"path": "hatch_build.py"}, app).initialize("standard", {})  # no option: core
    project.assert_built("core")
    assert app.errors == []


def test_hook_fails_the_build_with_the_message(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in project.env(HARMONY_VOCAB_OFFLINE="1").items():
        monkeypatch.setenv(key, value)
    app = FakeApp()
    with pytest.raises(SystemExit) as info:
        hook(project.root, {}, app).initialize("standard", {})
    assert info.value.code == 1
    (error,) = app.errors
    assert error.startswith("harmony-vocab build: no verified copy of o200k_base.tiktoken")


def test_recompress_keeps_every_member_and_deflates_at_level_9(tmp_path: Path) -> None:
    archive = tmp_path / "x-1-py3-none-any.whl"
    payload = make_vocab(3000, seed=3) * 4
    with zipfile.ZipFile(archive, "w") as zf:
        for name, data in (("pkg/data/v.tiktoken", payload), ("pkg/__init__.py", b"x = 1\n"), ("x.pth", b"")):
            info = zipfile.ZipInfo(name, (2020, 2, 2, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
    before = archive.stat().st_size
    with zipfile.ZipFile(archive) as zf:
        old = [(i.filename, i.date_time, i.external_attr, zf.read(i)) for i in zf.infolist()]

    hatch_build.recompress(archive)

    with zipfile.ZipFile(archive) as zf:
        assert [(i.filename, i.date_time, i.external_attr, zf.read(i)) for i in zf.infolist()] == old
        vocab = zf.getinfo("pkg/data/v.tiktoken")
    level9 = zlib.compressobj(9, zlib.DEFLATED, -15)
    assert vocab.compress_size == len(level9.compress(payload) + level9.flush())
    assert archive.stat().st_size < before
    assert files_in(tmp_path) == [archive.name]
