"""A lookup scenario for the tests (`World`: candidates placed in every place the lookup order
looks at) and the lookup run in this process or in a fresh one, reported in one shape so that the
assertions are shared."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

import harmony_vocab.pins
import harmony_vocab.tiers as tiers
from harmony_vocab.errors import VocabError, VocabWarning
from harmony_vocab.lookup import Resolution, resolve
from harmony_vocab.pins import Pin
from support import ROOT

SRC = ROOT / "src"
RESOLVE_CHILD = Path(__file__).resolve().parent / "resolve_child.py"
NAME = "o200k_base"
TIER_NAMES = [t.name for t in tiers.TIERS]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def flip(data: bytes) -> bytes:
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]


def cache_dir() -> Path:
    """Our cache, as the lookup finds it now."""
    found = tiers.cache_dir(os.environ)
    assert found is not None
    return Path(found)


BAD_KINDS = ("missing", "truncated", "flipped", "empty", "directory", "dangling", "unreadable")


def bad_bytes(kind: str, data: bytes) -> bytes:
    return {"truncated": data[: len(data) // 2], "flipped": flip(data), "empty": b""}[kind]


def write_candidate(path: Path, kind: str, data: bytes) -> None:
    """Put a candidate of `kind` at `path` ("good" or one of BAD_KINDS)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "good":
        path.write_bytes(data)
    elif kind == "missing":
        pass
    elif kind in ("truncated", "flipped", "empty"):
        path.write_bytes(bad_bytes(kind, data))
    elif kind == "directory":
        path.mkdir()
        (path / "inside").write_bytes(data)
    elif kind == "dangling":
        os.symlink(path.parent / "nowhere.tiktoken", path)
    elif kind == "unreadable":
        path.write_bytes(data)
        path.chmod(0)
    else:  # pragma: no cover
        raise AssertionError(kind)


def expected_outcome(kind: str, pin: Pin, data: bytes) -> str:
    """The attempt outcome the lookup must record for a bad candidate of `kind`."""
    if kind in ("truncated", "empty"):
        return f"size mismatch: expected {pin.size} bytes, got {len(bad_bytes(kind, data))}"
    return {
        "missing": "missing",
        "flipped": f"sha256 mismatch: expected {pin.sha256}, got {sha256(flip(data))}",
        "directory": "is a directory, expected a file",
        "dangling": "missing (dangling symlink)",
        "unreadable": "unreadable: permission denied",
    }[kind]


# Every place the lookup order looks at, highest precedence first. "explicit_path" and
# "explicit_dir" exclude each other; "model" is the model_dir= parameter, "model_env" the variable.
SOURCES = (
    "explicit_path", "explicit_dir", "env_file", "env_base", "model", "model_env", "package",
    "cache_ours", "cache_harmony", "cache_tiktoken", "download",
)
TIER_OF = {
    "explicit_path": "explicit", "explicit_dir": "explicit", "env_file": "environment",
    "env_base": "environment", "model": "model", "model_env": "model", "package": "package",
    "cache_ours": "cache", "cache_harmony": "cache", "cache_tiktoken": "cache", "download": "download",
}


class World:
    """A lookup scenario: candidates placed in the places of `SOURCES`, under `base`.

    HOME, TMPDIR, HF_HUB_CACHE and the package directory all live under `base`, so that the
    whole scenario can also be replayed in a subprocess (run as another user if need be).
    """

    def __init__(self, base: Path, monkeypatch: pytest.MonkeyPatch, name: str = NAME) -> None:
        self.base = base
        self.mp = monkeypatch
        self.name = name
        self.pin = harmony_vocab.pins.PINS[name]
        self.kwargs: Dict[str, Any] = {}
        self.server: Any = None
        self.package = base / "package"
        self.package.mkdir(parents=True, exist_ok=True)
        package = str(self.package)
        monkeypatch.setattr(tiers, "data_dir", lambda wheel: package)
        home = base / "home"
        (home / "tmp").mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv("HOME", str(home))
        monkeypatch.setenv("TMPDIR", str(home / "tmp"))
        monkeypatch.setattr(tempfile, "tempdir", str(home / "tmp"))
        monkeypatch.setenv("HF_HUB_CACHE", str(base / "hf-hub"))
        monkeypatch.setenv("HARMONY_VOCAB_AUTOREGISTER", "0")

    @property
    def data(self) -> bytes:
        return VOCAB_BYTES[self.name]

    def path_of(self, source: str) -> Path:
        """Where a candidate for `source` goes (the download tier: where it lands)."""
        b, pin = self.base, self.pin
        return {
            "explicit_path": b / "explicit" / "any-name.bin",
            "explicit_dir": b / "explicit-dir" / pin.file,
            "env_file": b / "env-file" / "renamed.tiktoken",
            "env_base": b / "env-base" / pin.file,
            "model": b / "model" / pin.file,
            "model_env": b / "model-env" / pin.file,
            "package": self.package / pin.file,
            "cache_ours": b / "hv-cache" / pin.file,
            "cache_harmony": b / "rs-cache" / pin.cache_key,
            "cache_tiktoken": b / "tt-cache" / pin.cache_key,
            "download": cache_dir() / pin.file,
        }[source]

    def place(self, source: str, kind: str = "good") -> Path:
        """Put a candidate of `kind` for `source` and point the setting at it."""
        path = self.path_of(source)
        if source == "download":
            assert self.server is not None, "call serve() first"
            self.mp.setenv(tiers.ENV_BASE_URL, self.server.url_for("/mirror/"))
            self.kwargs["download"] = True
            return self.path_of(source)
        write_candidate(path, kind, self.data)
        setting = {
            "explicit_path": lambda: self.kwargs.__setitem__("vocab_path", str(path)),
            "explicit_dir": lambda: self.kwargs.__setitem__("vocab_dir", str(path.parent)),
            "env_file": lambda: self.mp.setenv(tiers.file_env_var(self.name), str(path)),
            "env_base": lambda: self.mp.setenv(tiers.TIKTOKEN_ENCODINGS_BASE, str(path.parent)),
            "model": lambda: self.kwargs.__setitem__("model_dir", str(path.parent)),
            "model_env": lambda: self.mp.setenv(tiers.ENV_MODEL_DIR, str(path.parent)),
            "package": lambda: None,
            "cache_ours": lambda: self.mp.setenv(tiers.ENV_CACHE_DIR, str(path.parent)),
            "cache_harmony": lambda: self.mp.setenv(tiers.TIKTOKEN_RS_CACHE_DIR, str(path.parent)),
            "cache_tiktoken": lambda: self.mp.setenv("TIKTOKEN_CACHE_DIR", str(path.parent)),
        }[source]
        setting()
        return path

    def serve(self, httpserver: Any) -> None:
        self.server = httpserver
        httpserver.expect_request(f"/mirror/{self.pin.file}").respond_with_data(
            self.data, content_type="application/octet-stream")

    def resolve(self) -> Resolution:
        return resolve(self.name, **self.kwargs)


VOCAB_BYTES: Dict[str, bytes] = {}


def attempt_list(attempts: Any) -> List[List[Any]]:
    return [[a.tier, a.place, a.outcome, a.ok] for a in attempts]


def report_in_process(name: str, kwargs: Dict[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            r = resolve(name, **kwargs)
            out.update(tier=r.tier, path=str(r.path), attempts=attempt_list(r.attempts))
        except VocabError as exc:
            out.update(error=type(exc).__name__, bases=[c.__name__ for c in type(exc).__mro__],
                       message=str(exc), attempts=attempt_list(getattr(exc, "attempts", ())),
                       integrity={k: getattr(exc, k, None) for k in (
                           "path", "expected_size", "actual_size", "expected_sha256", "actual_sha256")},
                       cause=exc.__cause__)
    out["warnings"] = [[w.category.__name__, str(w.message)] for w in caught]
    # A warning must point at the caller's line, not at harmony-vocab's insides.
    out["warning_files"] = [w.filename for w in caught if issubclass(w.category, VocabWarning)]
    return out


def pin_as_dict(pin: Pin) -> Dict[str, Any]:
    return {"name": pin.name, "wheel": pin.wheel, "harmony": pin.harmony, "encodings": list(pin.encodings),
            "ranks": pin.ranks, "byte_level_sha256": pin.byte_level_sha256,
            "files": [[f.vocab, f.name, f.sha256, f.size, list(f.urls)] for f in pin.files]}


def runner_cmd(python: str, name: str, kwargs: Dict[str, Any]) -> List[str]:
    cfg = {
        "src": str(SRC),
        "name": name,
        "kwargs": kwargs,
        "pins": [pin_as_dict(p) for p in harmony_vocab.pins.PINS.values()],
        "package": tiers.data_dir("core"),
    }
    return [python, "-I", str(RESOLVE_CHILD), json.dumps(cfg)]


def report_in_subprocess(name: str, kwargs: Dict[str, Any], prefix: Tuple[str, ...] = (),
                         python: str = sys.executable) -> Dict[str, Any]:
    """Run the lookup in a new process with this process's environment (and pins)."""
    proc = subprocess.run([*prefix, *runner_cmd(python, name, kwargs)], env=dict(os.environ),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]
