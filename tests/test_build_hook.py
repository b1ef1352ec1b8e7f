"""Unit tests of the build hook (hatch_build.py) on small synthetic vocabs.

`obtain` is tested directly (sources in order, first verified match wins, rejected candidates
reported); `prepare` runs against a temporary project root holding a synthetic manifest and an
empty src/harmony_vocab/, so nothing is ever written into the real tree. HTTP goes to 127.0.0.1
only; the manifest's https:// URLs point at a closed port on 127.0.0.1 (connection refused).
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import shutil
import socket
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import pytest
from pytest_httpserver import HTTPServer

from harmony_vocab import fetch, integrity
from harmony_vocab.fetch import OFFLINE_REFUSAL
from harmony_vocab.pins import Pin
from support import ROOT, make_pin, make_vocab

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
import hatch_build  # noqa: E402
from hatch_build import BuildSetupError  # noqa: E402

NAMES = ("o200k_base", "cl100k_base")
FAST: Dict[str, Any] = dict(tries=1, backoff=0, connect_timeout=2.0, read_timeout=2.0)




@pytest.fixture(autouse=True)
def fast_fetch(monkeypatch: pytest.MonkeyPatch) -> None:
    """`prepare` downloads with the fetch module's defaults: make them fast for tests."""
    monkeypatch.setattr(fetch, "TRIES", 1)
    monkeypatch.setattr(fetch, "BACKOFF", 0)
    monkeypatch.setattr(fetch, "CONNECT_TIMEOUT", 2.0)
    monkeypatch.setattr(fetch, "READ_TIMEOUT", 2.0)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connecting is refused at once)."""
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]


def tamper(data: bytes) -> bytes:
    """Same size, different bytes."""
    return data[:50] + (b"A" if data[50:51] != b"A" else b"B") + data[51:]


def files_in(directory: Path) -> List[str]:
    return sorted(os.listdir(directory)) if directory.exists() else []


def write_manifest(path: Path, entries: Dict[str, Dict[str, Any]], header: str = "") -> None:
    def value(v: Any) -> str:
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return str(v)

    lines = [header] if header else []
    for name, entry in entries.items():
        lines.append(f"[vocab.{name}]")
        lines.extend(f"{k} = {value(v)}" for k, v in entry.items())
        lines.append("")
    path.write_text("\n".join(lines))


def entry_of(pin: Pin) -> Dict[str, Any]:
    return {"file": pin.file, "sha256": pin.sha256, "size": pin.size, "ranks": pin.ranks,
            "sample": pin.sample, "urls": list(pin.urls)}


class Project:
    """A temporary project root for `prepare`: synthetic manifest, empty src/harmony_vocab/."""

    def __init__(self, root: Path, home: Path) -> None:
        self.root = root
        port = closed_port()
        self.vocabs: Dict[str, Tuple[Pin, bytes]] = {}
        for seed, name in enumerate(NAMES):
            data = make_vocab(280 + 30 * seed, seed=10 + seed)
            url = f"https://127.0.0.1:{port}/encodings/{name}.tiktoken"
            self.vocabs[name] = (make_pin(name, data, [url]), data)
        (root / "src" / "harmony_vocab").mkdir(parents=True)
        self.startup_module = root / "src" / "_harmony_vocab_lookup.py"
        for module in ("_harmony_vocab_startup.py", "_harmony_vocab_lookup.py"):
            shutil.copy(ROOT / "src" / module, root / "src" / module)
        write_manifest(root / "vocab_manifest.toml", {n: entry_of(p) for n, (p, _) in self.vocabs.items()})
        self.data = root / "src" / "harmony_vocab" / "data"
        self.cache = home / "vocab-cache"
        self.mirror = home / "mirror"
        self.messages: List[str] = []

    def env(self, **extra: str) -> Dict[str, str]:
        return {"HARMONY_VOCAB_CACHE_DIR": str(self.cache), **extra}

    def prepare(self, **extra: str) -> List[Path]:
        return hatch_build.prepare(self.root, self.env(**extra), self.messages.append)

    def fill(self, directory: Path, good: bool = True, only: Optional[str] = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name, (pin, data) in self.vocabs.items():
            if only is None or name == only:
                (directory / pin.file).write_bytes(data if good else tamper(data))

    def assert_built(self) -> None:
        for pin, data in self.vocabs.values():
            assert (self.data / pin.file).read_bytes() == data
        assert files_in(self.data) == sorted(p.file for p, _ in self.vocabs.values())


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "root").mkdir()
    return Project(tmp_path / "root", tmp_path)


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> List[str]:
    """The paths `obtain` checks against the pin, in order."""
    seen: List[str] = []
    real = integrity.check_file

    def spy(path: Any, pin: Pin) -> None:
        seen.append(os.fspath(path))
        real(path, pin)

    monkeypatch.setattr(integrity, "check_file", spy)
    return seen


class NoSockets:
    """Records (and refuses) every attempt to create a socket or resolve a name."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: List[str] = []
        for attr in ("socket", "create_connection", "getaddrinfo", "socketpair"):
            monkeypatch.setattr(socket, attr, self._refuse(attr))

    def _refuse(self, attr: str) -> Any:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(f"socket.{attr}{args!r}")
            raise OSError(errno.EACCES, f"socket.{attr} blocked by the test")

        return refuse


# ---------------------------------------------------------------- obtain: sources in order

def test_tampered_mirror_is_reported_and_the_good_cache_used(
    tmp_path: Path, vocab: Tuple[Pin, bytes], httpserver: HTTPServer
) -> None:
    pin, data = vocab
    mirror, cache, data_dir = tmp_path / "mirror", tmp_path / "cache", tmp_path / "data"
    mirror.mkdir()
    cache.mkdir()
    bad = tamper(data)
    (mirror / pin.file).write_bytes(bad)
    (cache / pin.file).write_bytes(data)
    messages: List[str] = []

    path = hatch_build.obtain(pin, data_dir, source_dir=str(mirror), cache_dir=cache, offline=False,
                              urls=[httpserver.url_for("/" + pin.file)], log=messages.append,
                              fetch_options=FAST)

    assert path == data_dir / pin.file
    assert path.read_bytes() == data
    report = "\n".join(messages)
    assert str(mirror / pin.file) in report
    assert f"expected {pin.sha256}, got {hashlib.sha256(bad).hexdigest()}" in report
    assert (mirror / pin.file).read_bytes() == bad, "the mirror is never modified"
    assert httpserver.log == [], "no download when the cache holds a verified copy"
    assert files_in(data_dir) == [pin.file]


def test_mirror_file_of_the_wrong_size_is_reported(tmp_path: Path, vocab: Tuple[Pin, bytes]) -> None:
    pin, data = vocab
    mirror, cache = tmp_path / "mirror", tmp_path / "cache"
    mirror.mkdir()
    cache.mkdir()
    (mirror / pin.file).write_bytes(data + b"extra 9999\n")
    (cache / pin.file).write_bytes(data)
    messages: List[str] = []
    hatch_build.obtain(pin, tmp_path / "data", source_dir=str(mirror), cache_dir=cache, offline=True,
                       urls=list(pin.urls), log=messages.append)
    assert any(f"size mismatch: expected {pin.size} bytes, got {pin.size + 11}" in m for m in messages)
    assert (tmp_path / "data" / pin.file).read_bytes() == data


TIERS = ["mirror", "package data", "cache", "download"]


@pytest.mark.parametrize("earlier", ["missing", "tampered"])
@pytest.mark.parametrize("winner", TIERS)
def test_each_tier_wins_in_order(
    tmp_path: Path, vocab: Tuple[Pin, bytes], httpserver: HTTPServer, checked: List[str],
    winner: str, earlier: str,
) -> None:
    """Tiers before the winner are missing or tampered; the winner and every later tier hold a
    good copy (and the server serves one): the winner's copy is used and nothing later is
    looked at."""
    pin, data = vocab
    mirror, data_dir, cache = tmp_path / "mirror", tmp_path / "data", tmp_path / "cache"
    places = {"mirror": mirror / pin.file, "package data": data_dir / pin.file, "cache": cache / pin.file}
    win = TIERS.index(winner)
    for i, tier in enumerate(TIERS[:3]):
        places[tier].parent.mkdir(parents=True, exist_ok=True)
        if i >= win:
            places[tier].write_bytes(data)
        elif earlier == "tampered":
            places[tier].write_bytes(tamper(data))
    httpserver.expect_request("/" + pin.file).respond_with_data(data)
    messages: List[str] = []

    path = hatch_build.obtain(pin, data_dir, source_dir=str(mirror), cache_dir=cache, offline=False,
                              urls=[httpserver.url_for("/" + pin.file)], log=messages.append,
                              fetch_options=FAST)

    assert path.read_bytes() == data
    looked_at = [str(places[t]) for t in TIERS[: min(win + 1, 3)]]
    if winner != "package data":  # a copy placed in the data directory is verified once more
        looked_at.append(str(data_dir / pin.file))
    assert checked == looked_at
    assert len(httpserver.log) == (1 if winner == "download" else 0)
    if winner == "download":
        assert (cache / pin.file).read_bytes() == data, "the download lands in the cache too"
    if earlier == "tampered":
        for tier in TIERS[:win]:
            assert any(str(places[tier]) in m and "sha256 mismatch" in m for m in messages), messages
    assert files_in(data_dir) == [pin.file]


def test_failed_download_leaves_nothing_and_names_every_source(
    tmp_path: Path, vocab: Tuple[Pin, bytes], httpserver: HTTPServer
) -> None:
    pin, data = vocab
    httpserver.expect_request("/mirror/" + pin.file).respond_with_data("", status=404)
    httpserver.expect_request("/canonical/" + pin.file).respond_with_data(tamper(data))
    urls = [httpserver.url_for("/mirror/" + pin.file), httpserver.url_for("/canonical/" + pin.file)]
    mirror, data_dir, cache = tmp_path / "mirror", tmp_path / "data", tmp_path / "cache"
    mirror.mkdir()

    with pytest.raises(BuildSetupError) as info:
        hatch_build.obtain(pin, data_dir, source_dir=str(mirror), cache_dir=cache, offline=False,
                           urls=urls, log=lambda m: None, fetch_options=FAST)

    message = str(info.value)
    places = [str(mirror / pin.file), str(data_dir / pin.file), str(cache / pin.file), *urls]
    positions = [message.find(p) for p in places]
    assert -1 not in positions, message
    assert positions == sorted(positions), "sources are listed in the order they were tried"
    assert "HTTP 404" in message and "sha256 mismatch" in message
    assert "HARMONY_VOCAB_SOURCE_DIR" in message, "the message says what setting would fix it"
    assert files_in(cache) == [] and files_in(data_dir) == []


def test_rejected_package_data_file_is_not_left_behind(tmp_path: Path, vocab: Tuple[Pin, bytes]) -> None:
    """A tampered file in the data directory fails the build and is removed, so that nothing
    (an editable install, a packaging step) can pick it up later."""
    pin, data = vocab
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / pin.file).write_bytes(tamper(data))
    with pytest.raises(BuildSetupError) as info:
        hatch_build.obtain(pin, data_dir, source_dir=None, cache_dir=tmp_path / "cache", offline=True,
                           urls=list(pin.urls), log=lambda m: None)
    assert "sha256 mismatch" in str(info.value)
    assert files_in(data_dir) == []


def test_unusable_cache_directory_is_reported(tmp_path: Path, vocab: Tuple[Pin, bytes], httpserver: HTTPServer) -> None:
    pin, data = vocab
    cache = tmp_path / "cache"
    cache.write_text("a file where the cache directory should be")
    httpserver.expect_request("/" + pin.file).respond_with_data(data)
    with pytest.raises(BuildSetupError) as info:
        hatch_build.obtain(pin, tmp_path / "data", source_dir=None, cache_dir=cache, offline=False,
                           urls=[httpserver.url_for("/" + pin.file)], log=lambda m: None, fetch_options=FAST)
    assert str(cache) in str(info.value)
    assert files_in(tmp_path / "data") == []


# ---------------------------------------------------------------- prepare: the whole build step

def test_prepare_from_the_mirror_writes_pins_and_data(project: Project, httpserver: HTTPServer) -> None:
    project.fill(project.mirror)
    paths = project.prepare(HARMONY_VOCAB_SOURCE_DIR=str(project.mirror),
                            HARMONY_VOCAB_BASE_URL=httpserver.url_for("/vocab/"))
    assert paths == [project.data / f"{n}.tiktoken" for n in NAMES]
    project.assert_built()
    pins_module = project.startup_module
    manifest = hatch_build.load_manifest(project.root / "vocab_manifest.toml")
    text = pins_module.read_text()
    assert text == hatch_build.render_modules(project.root, manifest)[pins_module]
    namespace: Dict[str, Any] = {"__file__": str(pins_module)}
    exec(text, namespace)
    assert namespace["PINS"]["o200k_base"]["sha256"] == project.vocabs["o200k_base"][0].sha256
    assert httpserver.log == []
    assert files_in(project.cache) == []

    # a second run finds everything in place: the module is not rewritten, the data dir wins
    before = pins_module.stat().st_mtime_ns
    os.utime(pins_module, ns=(before - 10**9, before - 10**9))
    project.prepare()
    assert pins_module.stat().st_mtime_ns == before - 10**9
    project.assert_built()


def test_prepare_tampered_mirror_and_good_cache(project: Project) -> None:
    project.fill(project.mirror)
    project.fill(project.mirror, good=False, only="o200k_base")
    project.fill(project.cache)
    pin, data = project.vocabs["o200k_base"]

    project.prepare(HARMONY_VOCAB_SOURCE_DIR=str(project.mirror), HARMONY_VOCAB_OFFLINE="1")

    project.assert_built()
    report = "\n".join(project.messages)
    assert str(project.mirror / pin.file) in report
    assert f"expected {pin.sha256}, got {hashlib.sha256(tamper(data)).hexdigest()}" in report
    assert "cl100k_base" not in report, "the good mirror file is not reported"


def test_prepare_downloads_from_the_base_url_mirror_first(project: Project, httpserver: HTTPServer) -> None:
    for pin, data in project.vocabs.values():
        httpserver.expect_request("/mirror/" + pin.file).respond_with_data(data)

    project.prepare(HARMONY_VOCAB_BASE_URL=httpserver.url_for("/mirror"))

    project.assert_built()
    assert [r.path for r, _ in httpserver.log] == [f"/mirror/{n}.tiktoken" for n in NAMES]
    assert files_in(project.cache) == sorted(f"{n}.tiktoken" for n in NAMES)
    for pin, data in project.vocabs.values():
        assert (project.cache / pin.file).read_bytes() == data


def test_prepare_download_failure_names_the_mirror_and_the_manifest_urls(
    project: Project, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/mirror/o200k_base.tiktoken").respond_with_data("", status=404)
    base = httpserver.url_for("/mirror/")

    with pytest.raises(BuildSetupError) as info:
        project.prepare(HARMONY_VOCAB_BASE_URL=base)

    message = str(info.value)
    pin = project.vocabs["o200k_base"][0]
    mirror_url, canonical = base + pin.file, pin.urls[0]
    assert mirror_url in message and canonical in message
    assert message.index(mirror_url) < message.index(canonical)
    assert "HTTP 404" in message
    assert "HARMONY_VOCAB_BASE_URL" in message
    assert files_in(project.cache) == [] and files_in(project.data) == []


def test_offline_with_nothing_local_fails_without_a_socket_or_a_wait(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    sockets = NoSockets(monkeypatch)
    sleeps: List[float] = []
    monkeypatch.setattr(time, "sleep", sleeps.append)  # a retry's back-off would wait here

    with pytest.raises(BuildSetupError) as info:
        project.prepare(HARMONY_VOCAB_OFFLINE="1")

    assert sockets.calls == [] and sleeps == []
    message = str(info.value)
    pin = project.vocabs["o200k_base"][0]
    for place in ("HARMONY_VOCAB_SOURCE_DIR: not set", str(project.data / pin.file),
                  str(project.cache / pin.file), f"{pin.urls[0]}: {OFFLINE_REFUSAL}"):
        assert place in message, f"{place!r} missing from:\n{message}"
    assert "unset HARMONY_VOCAB_OFFLINE" in message
    assert files_in(project.data) == [] and files_in(project.cache) == []


def test_the_socket_spy_does_see_a_download(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Control for the test above: without HARMONY_VOCAB_OFFLINE the same build does reach for a
    socket, so an empty record there really means no network was tried."""
    sockets = NoSockets(monkeypatch)
    with pytest.raises(BuildSetupError) as info:
        project.prepare()
    assert sockets.calls
    assert "blocked by the test" in str(info.value)
    assert files_in(project.data) == [] and files_in(project.cache) == []


# ---------------------------------------------------------------- settings and manifest errors

@pytest.mark.parametrize("value", ["maybe", "2"])
def test_bad_offline_flag_names_the_setting(project: Project, value: str) -> None:
    with pytest.raises(BuildSetupError, match=f"HARMONY_VOCAB_OFFLINE='{value}'"):
        project.prepare(HARMONY_VOCAB_OFFLINE=value)
    assert files_in(project.data) == []


@pytest.mark.parametrize("kind", ["file", "missing"])
def test_source_dir_not_a_directory_names_the_setting(project: Project, tmp_path: Path, kind: str) -> None:
    target = tmp_path / "not-a-dir"
    if kind == "file":
        target.write_text("")
    with pytest.raises(BuildSetupError) as info:
        project.prepare(HARMONY_VOCAB_SOURCE_DIR=str(target))
    assert f"HARMONY_VOCAB_SOURCE_DIR={str(target)!r} is not a directory" in str(info.value)
    assert files_in(project.data) == []


@pytest.mark.parametrize("value", ["not a url", "127.0.0.1:8000/vocab", "ftp://mirror/vocab", "file:///srv/vocab", "http://"])
def test_base_url_not_a_url_names_the_setting(project: Project, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sockets = NoSockets(monkeypatch)
    with pytest.raises(BuildSetupError) as info:
        project.prepare(HARMONY_VOCAB_BASE_URL=value)
    message = str(info.value)
    assert f"HARMONY_VOCAB_BASE_URL={value!r} is not an http(s) URL" in message
    # build-time advice: the build reads HARMONY_VOCAB_SOURCE_DIR (the run-time variables it does not)
    assert message.endswith("; for a local directory, set HARMONY_VOCAB_SOURCE_DIR")
    assert sockets.calls == []
    assert files_in(project.data) == []


@pytest.mark.parametrize("value", ["soon", "0", "-1"])
def test_bad_download_deadline_names_the_setting(project: Project, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sockets = NoSockets(monkeypatch)
    with pytest.raises(BuildSetupError, match=f"^HARMONY_VOCAB_DOWNLOAD_DEADLINE='{value}' is not a number of seconds"):
        project.prepare(HARMONY_VOCAB_DOWNLOAD_DEADLINE=value)
    assert sockets.calls == [] and files_in(project.data) == []


def test_mirror_credentials_are_used_but_never_shown(project: Project, httpserver: HTTPServer) -> None:
    basic = "Basic " + base64.b64encode(b"builder:s3cret").decode()
    for pin, _ in project.vocabs.values():
        httpserver.expect_request("/mirror/" + pin.file, headers={"Authorization": basic}).respond_with_data(
            "", status=404)
    base = f"http://builder:s3cret@127.0.0.1:{httpserver.port}/mirror/"

    with pytest.raises(BuildSetupError) as info:
        project.prepare(HARMONY_VOCAB_BASE_URL=base)

    shown = str(info.value) + "\n".join(project.messages)
    assert "s3cret" not in shown and "builder" not in shown
    assert f"http://***@127.0.0.1:{httpserver.port}/mirror/o200k_base.tiktoken: HTTP 404 NOT FOUND" in shown
    assert [r.headers.get("Authorization") for r, _ in httpserver.log] == [basic]


def _manifest_case(project: Project, change: Dict[str, Any]) -> Path:
    entries = {n: entry_of(p) for n, (p, _) in project.vocabs.items()}
    entries["o200k_base"].update(change)
    entries["o200k_base"] = {k: v for k, v in entries["o200k_base"].items() if v is not None}
    path = project.root / "vocab_manifest.toml"
    write_manifest(path, entries)
    return path


@pytest.mark.parametrize(
    "change, key",
    [
        ({"sha256": "abc123"}, "sha256"),
        ({"sha256": "A" * 64}, "sha256"),
        ({"sha256": None}, "sha256"),
        ({"file": "o200k.tiktoken"}, "file"),
        ({"file": "../cl100k_base.tiktoken"}, "file"),
        ({"file": None}, "file"),
        ({"size": 0}, "size"),
        ({"size": "12"}, "size"),
        ({"ranks": -1}, "ranks"),
        ({"urls": []}, "urls"),
        ({"urls": ["http://example.invalid/o200k_base.tiktoken"]}, "urls"),
        ({"md5": "x"}, "md5"),
    ],
)
def test_manifest_errors_name_the_key(project: Project, change: Dict[str, Any], key: str) -> None:
    path = _manifest_case(project, change)
    with pytest.raises(BuildSetupError) as info:
        hatch_build.load_manifest(path)
    message = str(info.value)
    assert f"{path}: [vocab.o200k_base]" in message
    assert key in message.split("[vocab.o200k_base]", 1)[1]
    with pytest.raises(BuildSetupError):
        project.prepare(HARMONY_VOCAB_OFFLINE="1")
    for module in ("_harmony_vocab_startup.py", "_harmony_vocab_lookup.py"):
        assert (project.root / "src" / module).read_text() == (ROOT / "src" / module).read_text()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[vocab.O200K]\nfile = 'O200K.tiktoken'\n", "[vocab.O200K]: the name must be"),
        ("[other]\nx = 1\n", "expected at least one [vocab.<name>] table"),
        ("[vocab.o200k_base\n", "is not valid TOML"),
    ],
)
def test_malformed_manifest(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "vocab_manifest.toml"
    path.write_text(text)
    with pytest.raises(BuildSetupError) as info:
        hatch_build.load_manifest(path)
    assert expected in str(info.value) and str(path) in str(info.value)


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(BuildSetupError, match="cannot read the manifest"):
        hatch_build.load_manifest(tmp_path / "vocab_manifest.toml")


def test_rendered_pins_module_round_trips(project: Project) -> None:
    manifest = hatch_build.load_manifest(project.root / "vocab_manifest.toml")
    namespace: Dict[str, Any] = {}
    exec(hatch_build.render_pins(manifest), namespace)
    assert list(namespace["PINS"]) == list(NAMES)
    for name, (pin, _) in project.vocabs.items():
        assert namespace["PINS"][name] == {
            "file": pin.file, "sha256": pin.sha256, "size": pin.size, "ranks": pin.ranks, "urls": pin.urls,
            "sample": pin.sample, "cache_key": pin.cache_key,
        }


# ---------------------------------------------------------------- the hatchling hook

class FakeApp:
    def __init__(self) -> None:
        self.info: List[str] = []
        self.errors: List[str] = []

    def display_info(self, message: str) -> None:
        self.info.append(message)

    def display_error(self, message: str) -> None:
        self.errors.append(message)


def _hook(project: Project, app: FakeApp) -> Any:
    return hatch_build.VocabBuildHook(str(project.root), {}, None, None, str(project.root / "dist"),
                                      "wheel", app=app)


def test_hook_initialize_builds_from_the_environment(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.fill(project.mirror)
    monkeypatch.setenv("HARMONY_VOCAB_SOURCE_DIR", str(project.mirror))
    monkeypatch.setenv("HARMONY_VOCAB_OFFLINE", "1")
    monkeypatch.setenv("HARMONY_VOCAB_CACHE_DIR", str(project.cache))
    app = FakeApp()
    _hook(project, app).initialize("standard", {})
    project.assert_built()
    assert app.errors == []


def test_hook_initialize_fails_the_build_with_the_message(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARMONY_VOCAB_OFFLINE", "1")
    monkeypatch.setenv("HARMONY_VOCAB_CACHE_DIR", str(project.cache))
    app = FakeApp()
    with pytest.raises(SystemExit) as info:
        _hook(project, app).initialize("standard", {})
    assert info.value.code == 1
    (error,) = app.errors
    assert error.startswith("harmony-vocab build: no verified copy of o200k_base.tiktoken")
    assert "HARMONY_VOCAB_OFFLINE" in error


def test_recompress_keeps_every_member_and_shrinks_the_archive(tmp_path: Path) -> None:
    import zipfile
    import zlib

    from support import make_vocab

    archive = tmp_path / "x-1-py3-none-any.whl"
    payload = make_vocab(3000, seed=3) * 4
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
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
    assert not list(tmp_path.glob("*.part"))


def test_a_sample_that_is_not_the_files_bytes_fails_the_build(project: Project) -> None:
    """The start-up check compares the pinned sample: a wrong one would pass every bundled copy
    over at every start, silently."""
    pin, data = project.vocabs["o200k_base"]
    entries = {n: entry_of(p) for n, (p, _) in project.vocabs.items()}
    entries["o200k_base"]["sample"] = ("0" if pin.sample[0] != "0" else "1") + pin.sample[1:]
    write_manifest(project.root / "vocab_manifest.toml", entries)
    project.fill(project.mirror)
    with pytest.raises(BuildSetupError) as info:
        project.prepare(HARMONY_VOCAB_SOURCE_DIR=str(project.mirror))
    message = str(info.value)
    assert "[vocab.o200k_base]: sample is not the verified o200k_base.tiktoken's bytes" in message
    assert f'expected sample = "{pin.sample}"' in message
