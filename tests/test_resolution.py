"""Unit tests of the lookup order (issue 3): precedence of the tiers, bad candidates in every tier,
the verified-file cache, environment handling, name validation and the download tier.

Everything runs on the synthetic pins of conftest.py, offline: the only network is 127.0.0.1
(pytest-httpserver), and an autouse guard refuses any other connection or name lookup.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

import harmony_vocab
import harmony_vocab.files
import harmony_vocab.pins
import harmony_vocab.tiers as loc
from harmony_vocab.errors import (
    UnknownVocabError,
    VocabError,
    VocabIntegrityError,
    VocabNotFoundError,
    VocabWarning,
)
from harmony_vocab.lookup import resolve
from harmony_vocab.pins import File, Pin

import lookup
from lookup import (
    BAD_KINDS,
    NAME,
    SOURCES,
    TIER_NAMES as TIERS,
    TIER_OF,
    VOCAB_BYTES,
    World,
    bad_bytes,
    cache_dir,
    expected_outcome,
    flip,
    report_in_process,
    report_in_subprocess,
    runner_cmd,
    sha256,
    write_candidate,
)

pytestmark = pytest.mark.usefixtures("connections")  # no network but 127.0.0.1
AS_NOBODY = ("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups")


@pytest.fixture(scope="session")
def nobody_python() -> str:
    """An interpreter the unprivileged user can run (root reads a chmod 000 file regardless)."""
    if shutil.which("setpriv") is None:
        pytest.skip("running as root and setpriv is missing: cannot make a file unreadable")
    for python in (sys.executable, "/usr/bin/python3"):
        probe = subprocess.run([*AS_NOBODY, python, "-I", "-c",
                                "import sys; assert sys.version_info >= (3, 9)"],
                               capture_output=True, timeout=30)
        if probe.returncode == 0:
            return python
    pytest.skip("running as root and no Python >= 3.9 runs as user nobody")


def open_up(base: Path, keep_closed: Path) -> None:
    """Let another user traverse `base` and read everything in it except `keep_closed`."""
    for root, dirs, files in os.walk(base):
        os.chmod(root, 0o755)
        for f in files:
            p = Path(root) / f
            if p != keep_closed and not p.is_symlink():
                os.chmod(p, 0o644)


@pytest.fixture
def shared_base() -> Iterator[Path]:
    """A directory another user can traverse (pytest's own tmp_path is private to root)."""
    base = Path(tempfile.mkdtemp(prefix="harmony-vocab-test-", dir="/tmp"))
    os.chmod(base, 0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


# ------------------------------------------------------------------------------ 1. precedence


def test_each_source_alone_is_found(world: World, httpserver: Any) -> None:
    """Every source used in the precedence matrix is valid on its own."""
    world.serve(httpserver)
    for source in SOURCES:
        sub = World(world.base / source, world.mp)
        sub.server = httpserver
        for var in (loc.ENV_CACHE_DIR, "TIKTOKEN_RS_CACHE_DIR", "TIKTOKEN_CACHE_DIR",
                    loc.file_env_var(NAME), loc.TIKTOKEN_ENCODINGS_BASE, loc.ENV_MODEL_DIR,
                    loc.ENV_BASE_URL):
            world.mp.delenv(var, raising=False)
        expected = sub.place(source)
        r = sub.resolve()
        assert (r.tier, r.path) == (TIER_OF[source], expected), source
        assert r.path.read_bytes() == world.data
        assert r.attempts[-1].ok and r.attempts[-1].tier == TIER_OF[source]
        assert all(not a.ok for a in r.attempts[:-1])


PAIRS = [
    (high, low)
    for i, high in enumerate(SOURCES)
    for low in SOURCES[i + 1:]
    if {high, low} != {"explicit_path", "explicit_dir"}
]


@pytest.mark.parametrize("high,low", PAIRS, ids=[f"{h}>{lo}" for h, lo in PAIRS])
def test_precedence_matrix(world: World, httpserver: Any, high: str, low: str) -> None:
    world.serve(httpserver)
    low_path = world.place(low)
    high_path = world.place(high)
    r = world.resolve()
    assert r.tier == TIER_OF[high]
    assert r.path == high_path
    assert r.path != low_path
    assert r.attempts[-1].ok and r.attempts[-1].tier == TIER_OF[high]
    # The lower source was never looked at (nor downloaded from).
    assert all(TIERS.index(a.tier) <= TIERS.index(TIER_OF[high]) for a in r.attempts)
    assert httpserver.log == []


def test_explicit_path_and_dir_together_is_an_error(world: World) -> None:
    world.place("explicit_path")
    world.place("explicit_dir")
    with pytest.raises(VocabError, match="vocab_path or vocab_dir, not both"):
        world.resolve()


@pytest.mark.parametrize("variant", ["HARMONY_VOCAB_CACHE_DIR", "XDG_CACHE_HOME", "HOME"])
def test_our_cache_locations(world: World, variant: str) -> None:
    home = Path(os.environ["HOME"])
    where = {
        "HARMONY_VOCAB_CACHE_DIR": world.base / "custom-cache",
        "XDG_CACHE_HOME": world.base / "xdg" / "harmony-vocab",
        "HOME": home / ".cache" / "harmony-vocab",
    }[variant]
    if variant == "HARMONY_VOCAB_CACHE_DIR":
        world.mp.setenv(variant, str(where))
    elif variant == "XDG_CACHE_HOME":
        world.mp.setenv(variant, str(where.parent))
    write_candidate(where / world.pin.file, "good", world.data)
    r = world.resolve()
    assert (r.tier, r.path) == ("cache", where / world.pin.file)


@pytest.mark.parametrize("variant", [
    "TIKTOKEN_RS_CACHE_DIR", "harmony-default", "TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR",
    "tiktoken-default",
])
def test_foreign_cache_locations(world: World, variant: str) -> None:
    """openai-harmony's and tiktoken's caches, named by the sha1 of the canonical URL."""
    tmp = Path(os.environ["TMPDIR"])
    url_name = hashlib.sha1(world.pin.urls[0].encode()).hexdigest()
    directory = {
        "TIKTOKEN_RS_CACHE_DIR": world.base / "rs",
        "harmony-default": tmp / "tiktoken-rs-cache",
        "TIKTOKEN_CACHE_DIR": world.base / "tt",
        "DATA_GYM_CACHE_DIR": world.base / "dg",
        "tiktoken-default": tmp / "data-gym-cache",
    }[variant]
    if not variant.endswith("default"):
        world.mp.setenv(variant, str(directory))
    write_candidate(directory / url_name, "good", world.data)
    r = world.resolve()
    assert (r.tier, r.path) == ("cache", directory / url_name)


def test_tiktoken_cache_variable_order(world: World) -> None:
    """TIKTOKEN_CACHE_DIR wins over DATA_GYM_CACHE_DIR, as in tiktoken; "" disables the cache."""
    url_name = world.pin.cache_key
    write_candidate(world.base / "dg" / url_name, "good", world.data)
    world.mp.setenv("DATA_GYM_CACHE_DIR", str(world.base / "dg"))
    assert world.resolve().path == world.base / "dg" / url_name
    world.mp.setenv("TIKTOKEN_CACHE_DIR", str(world.base / "empty"))
    with pytest.raises(VocabNotFoundError):
        world.resolve()
    world.mp.setenv("TIKTOKEN_CACHE_DIR", "")
    with pytest.raises(VocabNotFoundError) as info:
        world.resolve()
    assert any("disabled" in a.outcome for a in info.value.attempts)


# ------------------------------------------------------------------------------ 2. bad candidates

# Where the lookup goes next when a source holds a bad candidate (None: nowhere, it fails).
FALLBACK = {
    "explicit_path": "package", "explicit_dir": "package", "env_file": "package",
    "env_base": "package", "model": "package", "model_env": "package", "package": "cache_ours",
    "cache_ours": "cache_harmony", "cache_harmony": "cache_tiktoken", "cache_tiktoken": None,
}
BAD_SOURCES = tuple(FALLBACK)


def place_bad(world: World, source: str, kind: str) -> Tuple[str, Optional[Path]]:
    """Place a bad candidate for `source` and a good one where the lookup goes next.

    Returns the place text the attempt must carry, and the fallback's path."""
    fallback = FALLBACK[source]
    fallback_path = world.place(fallback) if fallback else None
    if source in ("model", "model_env") and kind == "missing":
        # A model directory that does not exist at all.
        missing_dir = world.base / "no-such-model"
        if source == "model":
            world.kwargs["model_dir"] = str(missing_dir)
        else:
            world.mp.setenv(loc.ENV_MODEL_DIR, str(missing_dir))
        return str(missing_dir), fallback_path
    path = world.place(source, kind)
    # TIKTOKEN_ENCODINGS_BASE's attempt names the variable and its directory.
    return str(path.parent if source == "env_base" else path), fallback_path


def check_bad(world: World, source: str, kind: str, place: str, fallback_path: Optional[Path],
              report: Dict[str, Any]) -> None:
    pin, data = world.pin, world.data
    outcome = "not a directory" if source.startswith("model") and kind == "missing" else \
        expected_outcome(kind, pin, data)
    attempts = [tuple(a) for a in report["attempts"]]
    bad = [a for a in attempts if place in a[1] and a[0] == TIER_OF[source]]
    explicit_mismatch = source.startswith("explicit") and kind in ("truncated", "flipped", "empty")
    if not explicit_mismatch:  # a VocabIntegrityError carries the file, not a list of attempts
        assert bad, (place, attempts)
        assert bad[0][2].startswith(outcome), (bad[0], outcome)
        assert bad[0][3] is False
    if source.startswith("explicit"):
        # Strict: an error, even though a good copy sits in the package.
        if explicit_mismatch:
            assert report["error"] == "VocabIntegrityError"
            assert "ValueError" in report["bases"]
            info = report["integrity"]
            assert info["expected_size"] == pin.size
            assert info["actual_size"] == len(bad_bytes(kind, data))
            assert info["expected_sha256"] == pin.sha256
            if kind == "flipped":
                assert info["actual_sha256"] == sha256(flip(data))
                assert pin.sha256 in report["message"] and sha256(flip(data)) in report["message"]
            else:
                assert f"expected {pin.size} bytes, got {len(bad_bytes(kind, data))}" in report["message"]
            assert Path(info["path"]) == Path(world.path_of(source))
        else:
            assert report["error"] == "VocabNotFoundError"
            assert "FileNotFoundError" in report["bases"]
            assert outcome in report["message"]
            assert "leave it out to use the lookup order" in report["message"]
        assert not report["warnings"]
        return
    if fallback_path is None:
        assert report["error"] == "VocabNotFoundError", report
        assert outcome in report["message"]
    else:
        assert "error" not in report, report
        assert report["tier"] == TIER_OF[FALLBACK[source]]
        assert Path(report["path"]) == fallback_path
    warned = [msg for cat, msg in report["warnings"] if cat == "VocabWarning"]
    if source == "env_base" and kind in ("missing", "dangling"):
        # TIKTOKEN_ENCODINGS_BASE may hold only some vocabs (openai-harmony reads o200k_base
        # alone): a file missing there is no problem, only a line in the trace.
        assert warned == []
    elif TIER_OF[source] in ("environment", "model"):
        # Lenient on the environment and model directories, but never silent.
        assert len(warned) == 1, report["warnings"]
        assert outcome in warned[0]
    else:
        assert warned == []


BAD_CASES = [(s, k) for s in BAD_SOURCES for k in BAD_KINDS if k != "unreadable"]


@pytest.mark.parametrize("source,kind", BAD_CASES, ids=[f"{s}-{k}" for s, k in BAD_CASES])
def test_bad_candidate(world: World, source: str, kind: str) -> None:
    place, fallback_path = place_bad(world, source, kind)
    report = report_in_process(NAME, world.kwargs)
    check_bad(world, source, kind, place, fallback_path, report)
    if report.get("error"):
        assert report["cause"] is None  # no chained traceback from deep inside
    assert set(report["warning_files"]) <= {lookup.__file__}  # the caller of resolve(), not our insides


@pytest.mark.parametrize("source", BAD_SOURCES)
def test_unreadable_candidate(synthetic: Dict[str, Tuple[Pin, bytes]], monkeypatch: pytest.MonkeyPatch,
                              shared_base: Path, source: str, request: pytest.FixtureRequest) -> None:
    """chmod 000. Root reads such a file anyway, so as root the lookup runs in a subprocess as
    user nobody (setpriv), on a scenario built in a directory that user can traverse."""
    for name, (_pin, data) in synthetic.items():
        monkeypatch.setitem(VOCAB_BYTES, name, data)
    world = World(shared_base, monkeypatch)
    place, fallback_path = place_bad(world, source, "unreadable")
    if os.geteuid() == 0:
        python = request.getfixturevalue("nobody_python")
        open_up(shared_base, keep_closed=Path(world.path_of(source)))
        report = report_in_subprocess(NAME, world.kwargs, prefix=AS_NOBODY, python=python)
    else:
        report = report_in_process(NAME, world.kwargs)
    check_bad(world, source, "unreadable", place, fallback_path, report)


def test_bad_download_falls_to_not_found(world: World, httpserver: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mirror serving the wrong bytes: recorded as a failed download, nothing left in the cache."""
    pin = world.pin
    local_file = File(pin.name, pin.file, pin.sha256, pin.size, (httpserver.url_for(f"/canonical/{pin.file}"),))
    local_pin = Pin(pin.name, (local_file,), pin.wheel, pin.harmony, pin.encodings, pin.ranks,
                    pin.byte_level_sha256)
    monkeypatch.setitem(harmony_vocab.pins.PINS, NAME, local_pin)
    world.pin = local_pin
    httpserver.expect_request(f"/mirror/{pin.file}").respond_with_data(flip(world.data))
    httpserver.expect_request(f"/canonical/{pin.file}").respond_with_data("gone", status=404)
    monkeypatch.setenv(loc.ENV_BASE_URL, httpserver.url_for("/mirror/"))
    with pytest.raises(VocabNotFoundError) as info:
        resolve(NAME, download=True)
    downloads = [a for a in info.value.attempts if a.tier == "download"]
    assert [a.place for a in downloads] == [httpserver.url_for(f"/mirror/{pin.file}"),
                                            local_pin.urls[0]]
    assert downloads[0].outcome.startswith(f"sha256 mismatch: expected {pin.sha256}, got {sha256(flip(world.data))}")
    assert "HTTP 404" in downloads[1].outcome
    cache = cache_dir()
    assert not cache.exists() or list(cache.iterdir()) == []


def test_every_tier_failing_lists_all_attempts_in_order(world: World, httpserver: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    world.place("env_file", "flipped")
    world.place("env_base", "truncated")
    world.place("model_env", "empty")
    world.place("package", "dangling")
    world.place("cache_ours", "directory")
    world.place("cache_harmony", "flipped")
    world.place("cache_tiktoken", "missing")
    monkeypatch.setenv(loc.ENV_BASE_URL, httpserver.url_for("/mirror/"))
    with pytest.warns(VocabWarning) as caught:
        with pytest.raises(VocabNotFoundError) as info:
            resolve(NAME)
    assert len(caught) == 3
    exc = info.value
    assert isinstance(exc, FileNotFoundError)
    tiers = [a.tier for a in exc.attempts]
    assert tiers == sorted(tiers, key=TIERS.index)
    assert set(tiers) == set(TIERS)
    outcomes = [(a.tier, a.outcome.split(":")[0]) for a in exc.attempts]
    assert outcomes == [
        ("explicit", "not given"),
        ("environment", "sha256 mismatch"),
        ("environment", "size mismatch"),
        ("model", "size mismatch"),  # only the places that hold something are listed
        ("package", "missing (dangling symlink)"),
        ("cache", "is a directory, expected a file"),
        ("cache", "sha256 mismatch"),
        ("cache", "missing"),
        ("download", "not allowed (offline is the default; download=True or HARMONY_VOCAB_ALLOW_DOWNLOAD=1 allows it)"),
    ]
    lines = str(exc).splitlines()
    assert lines[0] == f"no verified copy of the {NAME} vocab found. Places tried, in order:"
    numbered = lines[1:1 + len(exc.attempts)]
    assert numbered == [f"  {i}. [{a.tier}] {a.place}: {a.outcome}" for i, a in enumerate(exc.attempts, 1)]
    assert str(world.path_of("env_file")) in numbered[1]
    assert httpserver.url_for("/mirror/") in numbered[-1]
    advice = "\n".join(lines[1 + len(exc.attempts):])
    assert advice.startswith("To fix, do one of:")
    for setting in (loc.file_env_var(NAME), loc.TIKTOKEN_ENCODINGS_BASE, loc.ENV_MODEL_DIR,
                    loc.ENV_ALLOW_DOWNLOAD, loc.ENV_BASE_URL, "pip install"):
        assert setting in advice
    assert world.pin.sha256 in advice and str(world.pin.size) in advice
    assert httpserver.log == []


def test_nothing_anywhere_lists_every_place(world: World) -> None:
    with pytest.raises(VocabNotFoundError) as info:
        resolve(NAME)
    attempts = info.value.attempts
    assert [(a.tier, a.outcome.split(" (")[0]) for a in attempts] == [
        ("explicit", "not given"),
        ("environment", "not set"),
        ("environment", "not set"),
        ("model", "not set"),
        ("package", "missing"),
        ("cache", "missing"),
        ("cache", "missing"),
        ("cache", "missing"),
        ("download", "not allowed"),
    ]
    assert [a.place for a in attempts[1:3]] == [loc.file_env_var(NAME), loc.TIKTOKEN_ENCODINGS_BASE]
    assert attempts[4].place == str(world.package / world.pin.file)
    assert attempts[5].place == str(cache_dir() / world.pin.file)
    url_name = world.pin.cache_key
    assert attempts[6].place == str(Path(os.environ["TMPDIR"]) / "tiktoken-rs-cache" / url_name)
    assert attempts[7].place == str(Path(os.environ["TMPDIR"]) / "data-gym-cache" / url_name)
    assert world.pin.urls[0] in attempts[8].place
    assert info.value.name == NAME


def test_explicit_error_is_filenotfound_and_names_the_choice(world: World) -> None:
    world.place("package")
    with pytest.raises(FileNotFoundError) as info:
        resolve(NAME, vocab_path=world.base / "typo.tiktoken")
    assert isinstance(info.value, VocabNotFoundError)
    assert f"vocab_path={world.base / 'typo.tiktoken'}: missing" in str(info.value)
    assert info.value.attempts[-1].tier == "explicit"


# ------------------------------------------------------------------------------ 3. hashing once


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> List[str]:
    """One entry per sha256 the verification starts (files.py hashes through its hashlib)."""
    calls: List[str] = []

    class Spy:
        @staticmethod
        def sha256(*args: Any) -> Any:
            calls.append("sha256")
            return hashlib.sha256(*args)

    monkeypatch.setattr(harmony_vocab.files, "hashlib", Spy)
    return calls


def test_verified_file_is_not_hashed_twice(world: World, hash_calls: List[str]) -> None:
    path = world.place("package")
    for _ in range(3):
        assert world.resolve().path == path
    assert len(hash_calls) == 1
    # The same file reached another way (explicitly) is still the same verified file.
    assert resolve(NAME, vocab_path=path).tier == "explicit"
    assert len(hash_calls) == 1


def test_changed_file_is_hashed_again(world: World, hash_calls: List[str]) -> None:
    path = world.place("package")
    world.resolve()
    assert len(hash_calls) == 1

    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # new mtime, same bytes
    assert world.resolve().tier == "package"
    assert len(hash_calls) == 2

    path.write_bytes(flip(world.data))  # same size, other bytes
    with pytest.raises(VocabNotFoundError):
        world.resolve()
    assert len(hash_calls) == 3

    # Rewritten in place with the old mtime restored: still caught (the key is not just mtime).
    time.sleep(0.02)
    path.write_bytes(world.data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert world.resolve().tier == "package"
    n = len(hash_calls)
    time.sleep(0.02)
    path.write_bytes(flip(world.data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    with pytest.raises(VocabNotFoundError):
        world.resolve()
    assert len(hash_calls) == n + 1

    # A new file (new inode) in the same place with the same size and mtime is hashed too.
    path.unlink()
    time.sleep(0.02)
    path.write_bytes(world.data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert world.resolve().tier == "package"
    assert len(hash_calls) == n + 2

    # A size change is caught by the size check alone, without hashing.
    path.write_bytes(world.data + b"x")
    with pytest.raises(VocabNotFoundError):
        world.resolve()
    assert len(hash_calls) == n + 2


# ------------------------------------------------------------------------------ 6. environment


def test_environment_is_read_at_call_time(world: World) -> None:
    world.place("package")
    assert world.resolve().tier == "package"
    env_file = world.base / "late" / "late.tiktoken"
    write_candidate(env_file, "good", world.data)
    world.mp.setenv(loc.file_env_var(NAME), str(env_file))
    r = world.resolve()
    assert (r.tier, r.path) == ("environment", env_file)
    world.mp.delenv(loc.file_env_var(NAME))
    assert world.resolve().tier == "package"
    world.mp.setenv(loc.ENV_MODEL_DIR, str(env_file.parent))
    (env_file.parent / world.pin.file).write_bytes(world.data)
    assert world.resolve().tier == "model"


def test_empty_variables_count_as_unset(world: World) -> None:
    world.place("package")
    for var in (loc.file_env_var(NAME), loc.TIKTOKEN_ENCODINGS_BASE, loc.ENV_MODEL_DIR):
        world.mp.setenv(var, "")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = world.resolve()
    assert r.tier == "package"
    assert [a.outcome for a in r.attempts[1:4]] == ["not set"] * 3


@pytest.mark.parametrize("tier", ["package", "model"])
def test_registration_is_not_the_environment_tier(world: World, tier: str) -> None:
    if tier == "package":
        directory = world.place("package").parent
    else:
        directory = world.place("model_env").parent
    world.mp.setenv(loc.TIKTOKEN_ENCODINGS_BASE, str(directory))
    world.mp.setenv(loc.ENV_REGISTERED, f"{tier}:{directory}")
    r = world.resolve()
    assert r.tier == tier
    note = [a for a in r.attempts if a.place == f"{loc.TIKTOKEN_ENCODINGS_BASE}={directory}"]
    assert note and "start-up registration" in note[0].outcome and not note[0].ok
    assert f"comes from the {tier} tier" in note[0].outcome
    # Once someone points TIKTOKEN_ENCODINGS_BASE elsewhere, it is the user's setting again.
    other = world.place("env_base").parent
    assert other != directory
    r = world.resolve()
    assert (r.tier, r.path.parent) == ("environment", other)


def test_registration_marker_for_another_dir_is_ignored(world: World) -> None:
    directory = world.place("env_base").parent
    world.mp.setenv(loc.ENV_REGISTERED, f"package:{world.package}")
    assert world.resolve().tier == "environment"
    world.mp.setenv(loc.ENV_REGISTERED, str(directory))  # malformed: no "<tier>:"
    assert world.resolve().tier == "environment"


def test_bad_boolean_names_the_variable(world: World) -> None:
    world.mp.setenv(loc.ENV_ALLOW_DOWNLOAD, "maybe")
    with pytest.raises(VocabError, match=loc.ENV_ALLOW_DOWNLOAD):
        world.resolve()


# ------------------------------------------------------------------------------ 7. names


@pytest.mark.parametrize("name", ["o200k", "../x", "/etc/passwd", "", None, "O200K_BASE",
                                  "../o200k_base", "o200k_base/../cl100k_base", "o200k_base "])
def test_unknown_names(world: World, name: Any, hash_calls: List[str]) -> None:
    world.place("package")
    with pytest.raises(UnknownVocabError) as info:
        resolve(name, vocab_path=world.path_of("package"))
    exc = info.value
    assert isinstance(exc, ValueError) and isinstance(exc, VocabError)
    assert exc.name == name
    assert ", ".join(harmony_vocab.VOCABS) in str(exc)  # every known name, the companion's too
    assert repr(name) in str(exc)
    assert hash_calls == []


def test_known_names_and_suffix(world: World) -> None:
    for name in ("o200k_base", "cl100k_base"):
        w = World(world.base / name, world.mp, name=name)
        path = w.place("package")
        assert w.resolve().name == name
        r = resolve(name + ".tiktoken")
        assert (r.name, r.path) == (name, path)


# ------------------------------------------------------------------------------ 8. download


def test_download_not_allowed_by_default(world: World, httpserver: Any, connections: List[object]) -> None:
    world.serve(httpserver)
    world.mp.setenv(loc.ENV_BASE_URL, httpserver.url_for("/mirror/"))
    connections.clear()
    with pytest.raises(VocabNotFoundError) as info:
        resolve(NAME)
    assert connections == []
    assert httpserver.log == []
    last = info.value.attempts[-1]
    assert last.tier == "download" and last.outcome.startswith("not allowed")
    assert httpserver.url_for(f"/mirror/{world.pin.file}") in last.place


@pytest.mark.parametrize("how", ["env", "parameter"])
def test_download_when_asked(world: World, httpserver: Any, how: str,
                             hash_calls: List[str]) -> None:
    world.serve(httpserver)
    world.mp.setenv(loc.ENV_BASE_URL, httpserver.url_for("/mirror/"))
    kwargs: Dict[str, Any] = {}
    if how == "env":
        world.mp.setenv(loc.ENV_ALLOW_DOWNLOAD, "1")
    else:
        kwargs["download"] = True
    r = resolve(NAME, **kwargs)
    assert r.tier == "download"
    assert r.path == cache_dir() / world.pin.file
    assert r.path.read_bytes() == world.data
    assert sorted(p.name for p in r.path.parent.iterdir()) == [world.pin.file]  # no .part left
    assert len(httpserver.log) == 1
    # Next time it comes from the cache, without a request.
    r = resolve(NAME, **kwargs)
    assert (r.tier, r.path) == ("cache", cache_dir() / world.pin.file)
    assert len(httpserver.log) == 1


def test_download_false_overrides_the_variable(world: World, httpserver: Any,
                                               connections: List[object]) -> None:
    world.serve(httpserver)
    world.mp.setenv(loc.ENV_BASE_URL, httpserver.url_for("/mirror/"))
    world.mp.setenv(loc.ENV_ALLOW_DOWNLOAD, "1")
    connections.clear()
    with pytest.raises(VocabNotFoundError) as info:
        resolve(NAME, download=False)
    assert connections == [] and httpserver.log == []
    assert info.value.attempts[-1].outcome.startswith("not allowed")


def test_download_is_atomic(world: World, httpserver: Any) -> None:
    """While the body streams, the final path does not exist; only the verified file appears."""
    from werkzeug import Response

    final = cache_dir() / world.pin.file
    seen: List[bool] = []
    half = len(world.data) // 2

    def body() -> Iterator[bytes]:
        yield world.data[:half]
        time.sleep(0.05)
        seen.append(final.exists())
        yield world.data[half:]

    httpserver.expect_request(f"/mirror/{world.pin.file}").respond_with_response(
        Response(body(), headers={"Content-Length": str(len(world.data))}))
    world.mp.setenv(loc.ENV_BASE_URL, httpserver.url_for("/mirror/"))
    r = resolve(NAME, download=True)
    assert seen == [False]
    assert r.path == final and final.read_bytes() == world.data
    assert oct(final.stat().st_mode & 0o777) == oct(0o644)


def test_concurrent_downloads_both_end_verified(world: World) -> None:
    """Two processes download the same file at the same time; both get a verified file."""
    from pytest_httpserver import HTTPServer
    from werkzeug import Request, Response

    barrier = threading.Barrier(2, timeout=20)
    data = world.data
    half = len(data) // 2

    def handler(request: Request) -> Response:
        barrier.wait()  # both processes are mid-download before either finishes

        def body() -> Iterator[bytes]:
            yield data[:half]
            time.sleep(0.2)
            yield data[half:]

        return Response(body(), headers={"Content-Length": str(len(data))})

    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.expect_request(f"/mirror/{world.pin.file}").respond_with_handler(handler)
    server.start()
    try:
        world.mp.setenv(loc.ENV_BASE_URL, server.url_for("/mirror/"))
        procs = [subprocess.Popen(runner_cmd(sys.executable, NAME, {"download": True}),
                                  env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
        outputs = [p.communicate(timeout=60) for p in procs]
    finally:
        server.stop()
    reports = [json.loads(out) for out, err in outputs]
    final = cache_dir() / world.pin.file
    for report, (_out, err) in zip(reports, outputs):
        assert report.get("tier") == "download", (report, err)
        assert Path(report["path"]) == final
    assert not barrier.broken
    assert len(server.log) == 2
    assert final.read_bytes() == data
    assert sorted(p.name for p in final.parent.iterdir()) == [world.pin.file]


def test_explicit_integrity_error_carries_the_trace(world: World) -> None:
    bad = world.base / "bad.tiktoken"
    bad.write_bytes(flip(world.data))
    with pytest.raises(VocabIntegrityError) as info:
        resolve(NAME, vocab_path=bad)
    assert [(a.tier, a.place) for a in info.value.attempts] == [("explicit", f"vocab_path={bad}")]
    assert "sha256 mismatch" in info.value.attempts[0].outcome


def test_offline_switch_forbids_even_an_asked_for_download(world: World, connections: List[object]) -> None:
    world.mp.setenv("HARMONY_VOCAB_OFFLINE", "1")
    world.mp.setenv("HARMONY_VOCAB_ALLOW_DOWNLOAD", "1")
    with pytest.raises(VocabNotFoundError) as info:
        resolve(NAME, download=True)
    assert info.value.attempts[-1].tier == "download"
    assert "HARMONY_VOCAB_OFFLINE=1 forbids every download" in info.value.attempts[-1].outcome
    assert connections == []


# ------------------------------------------------------------------------------ 9. a vocab of two files

GPT2_MIRROR = "gpt-2/encodings/main"


@pytest.fixture
def gpt2_files() -> Dict[str, bytes]:
    """gpt2's two real files (vocab.bpe, encoder.json), from the local mirror."""
    from support import SHARED_VOCAB

    pin = harmony_vocab.pins.PINS["gpt2"]
    return {f.name: (SHARED_VOCAB / GPT2_MIRROR / f.name).read_bytes() for f in pin.files}


def put(directory: Path, files: Dict[str, bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory


@pytest.mark.parametrize("how", ["vocab_dir", "HARMONY_VOCAB_GPT2", "model_dir", "model_dir/original",
                                 "HARMONY_VOCAB_MODEL_DIR"])
def test_gpt2_resolves_as_its_two_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        gpt2_files: Dict[str, bytes], how: str) -> None:
    """A companion vocab of two files goes through the same tiers: every file verified, both
    paths returned, in the pin's order, from one directory."""
    directory = put(tmp_path / "d" / ("original" if how.endswith("original") else ""), gpt2_files)
    given = directory.parent if how.endswith("original") else directory
    kwargs: Dict[str, Any] = {}
    if how in ("vocab_dir", "model_dir", "model_dir/original"):
        kwargs[how.split("/")[0]] = given
    else:
        monkeypatch.setenv(how, str(given))
    r = resolve("gpt2", **kwargs)
    tier = {"vocab_dir": "explicit", "HARMONY_VOCAB_GPT2": "environment"}.get(how, "model")
    assert (r.name, r.tier) == ("gpt2", tier)
    assert r.paths == (directory / "vocab.bpe", directory / "encoder.json")
    assert r.path == directory / "vocab.bpe"
    assert [p.read_bytes() for p in r.paths] == list(gpt2_files.values())


@pytest.mark.parametrize("how", ["vocab_dir", "HARMONY_VOCAB_GPT2", "model_dir"])
def test_gpt2_with_one_file_damaged_is_not_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 gpt2_files: Dict[str, bytes], how: str) -> None:
    """The control: the same directory with encoder.json damaged is refused (explicit: an error;
    elsewhere a warning naming the file, and the lookup goes on): both files are checked."""
    damaged = dict(gpt2_files, **{"encoder.json": flip(gpt2_files["encoder.json"])})
    directory = put(tmp_path / "d", damaged)
    if how == "vocab_dir":
        with pytest.raises(VocabIntegrityError) as info:
            resolve("gpt2", vocab_dir=directory)
        assert info.value.path == str(directory / "encoder.json")
        return
    kwargs: Dict[str, Any] = {}
    if how == "model_dir":
        kwargs["model_dir"] = directory
    else:
        monkeypatch.setenv(how, str(directory))
    with pytest.warns(VocabWarning, match="sha256 mismatch") as caught:
        with pytest.raises(VocabNotFoundError) as info:
            resolve("gpt2", **kwargs)
    assert any("encoder.json: sha256 mismatch" in str(w.message) for w in caught)  # which file
    assert "pip install 'harmony-vocab[legacy]'" in str(info.value)  # the companion is not installed here


def test_gpt2_needs_a_directory_not_a_file(tmp_path: Path, gpt2_files: Dict[str, bytes]) -> None:
    directory = put(tmp_path / "d", gpt2_files)
    with pytest.raises(VocabNotFoundError, match="give vocab_dir, the directory holding them"):
        resolve("gpt2", vocab_path=directory / "vocab.bpe")
    assert resolve("gpt2", vocab_dir=directory).tier == "explicit"
