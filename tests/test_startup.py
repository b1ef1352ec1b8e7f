"""The start-up registration (_harmony_vocab_startup, run by harmony_vocab.pth and named by
harmony_vocab.start): which directory it selects, when it leaves TIKTOKEN_ENCODINGS_BASE alone, what
its cheap check catches, that its hand-written constants are what harmony_vocab derives, and that
it never raises. tests/test_integration.py runs it for real at interpreter start from the wheel."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator, List, Set

import pytest

import _harmony_vocab_startup as startup
import harmony_vocab
import harmony_vocab.tiers as tiers
from harmony_vocab.files import check_file
from harmony_vocab.pins import PINS, harmony_pin
from support import ROOT, SHARED_VOCAB, clean_env, run

PIN = harmony_pin()
FILE = PIN.file
SRC = ROOT / "src"

pytestmark = pytest.mark.skipif(not SHARED_VOCAB.is_dir(), reason=f"no local vocab mirror at {SHARED_VOCAB}")


def vocab_in(directory: Path) -> Path:
    """`directory` holding a real o200k_base.tiktoken."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHARED_VOCAB / FILE, directory / FILE)
    return directory


def damage(path: Path, offset: int) -> None:
    """Change one byte of `path` in place, keeping its size."""
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x01]))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the module living in a "site-packages" whose harmony_vocab/data holds the
    real vocab (the lookup's package tier too); sys.meta_path and the two variables the
    registration sets are restored afterwards."""
    module = importlib.reload(startup)
    site_dir = tmp_path / "site"
    data = vocab_in(site_dir / "harmony_vocab" / "data")
    monkeypatch.setattr(module, "__file__", str(site_dir / "_harmony_vocab_startup.py"))
    monkeypatch.setattr(tiers, "data_dir", lambda wheel: str(data) if wheel == "core" else None)
    monkeypatch.setattr(sys, "meta_path", [f for f in sys.meta_path if type(f).__name__ != "TiktokenFinder"])
    for var in (startup.BASE, startup.REGISTERED):
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    return data


def test_registers_the_package_data_and_installs_the_tiktoken_finder(site: Path) -> None:
    startup.run()
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(site)
    assert os.environ["HARMONY_VOCAB_REGISTERED"] == f"package:{site}"
    assert sum(isinstance(f, startup.TiktokenFinder) for f in sys.meta_path) == 1


def test_order_env_file_then_model_dir_then_package(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "model"
    vocab_in(model / "original")
    vocab_in(model / "tokenizer")
    monkeypatch.setenv("HARMONY_VOCAB_MODEL_DIR", str(model))
    assert startup.selection(os.environ) == ("model", str(model / "tokenizer"))
    env_dir = vocab_in(tmp_path / "env")
    monkeypatch.setenv("HARMONY_VOCAB_O200K_BASE", str(env_dir / FILE))
    assert startup.selection(os.environ) == ("environment", str(env_dir))
    # A damaged or renamed file is passed over (resolve() reports it later).
    damage(env_dir / FILE, startup.sample_offsets(PIN.size)[3] + 5)
    monkeypatch.setenv("HARMONY_VOCAB_MODEL_DIR", str(tmp_path / "nowhere"))
    assert startup.selection(os.environ) == ("package", str(site))


def test_a_same_size_file_with_other_bytes_is_not_registered(site: Path, tmp_path: Path) -> None:
    """Issue 10 item 7: a size check alone registered this; openai-harmony then failed."""
    for offset in startup.sample_offsets(PIN.size):
        damage(site / FILE, offset + 3)
        assert not startup.looks_pinned(str(site / FILE))
        shutil.copy(SHARED_VOCAB / FILE, site / FILE)
    assert startup.looks_pinned(str(site / FILE))
    other = tmp_path / "other" / FILE
    other.parent.mkdir()
    with open(other, "wb") as f:  # right size, other bytes
        f.write((SHARED_VOCAB / "cl100k_base.tiktoken").read_bytes()[: PIN.size].ljust(PIN.size, b"\n"))
    assert not startup.looks_pinned(str(other))
    damage(site / FILE, 0)
    startup.run()
    assert "TIKTOKEN_ENCODINGS_BASE" not in os.environ


def test_fifos_and_devices_are_refused_without_blocking(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fifo_dir = tmp_path / "fifo"
    fifo_dir.mkdir()
    os.mkfifo(fifo_dir / FILE)
    assert not startup.looks_pinned(str(fifo_dir / FILE))
    dev_dir = tmp_path / "dev"
    dev_dir.mkdir()
    os.symlink("/dev/zero", dev_dir / FILE)
    assert not startup.looks_pinned(str(dev_dir / FILE))
    monkeypatch.setenv("HARMONY_VOCAB_O200K_BASE", str(fifo_dir / FILE))
    monkeypatch.setenv("HARMONY_VOCAB_MODEL_DIR", str(dev_dir))
    assert startup.selection(os.environ) == ("package", str(site))


def test_relative_and_home_paths_are_registered_absolute(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    vocab_in(home / "m" / "encodings")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("HARMONY_VOCAB_MODEL_DIR", "~/m")
    assert startup.selection(os.environ) == ("model", str(home / "m" / "encodings"))
    monkeypatch.chdir(home)
    monkeypatch.setenv("HARMONY_VOCAB_MODEL_DIR", "m")
    startup.run()
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(home / "m" / "encodings")


def test_leaves_an_operator_value_and_honours_the_opt_out(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", "/operator")
    startup.run()
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == "/operator"
    assert "HARMONY_VOCAB_REGISTERED" not in os.environ
    monkeypatch.delenv("TIKTOKEN_ENCODINGS_BASE")
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "TiktokenFinder"]  # a fresh process
    monkeypatch.setenv("HARMONY_VOCAB_AUTOREGISTER", "off")
    module = importlib.reload(startup)
    monkeypatch.setattr(module, "__file__", str(site.parent.parent / "_harmony_vocab_startup.py"))
    module.run()
    assert "TIKTOKEN_ENCODINGS_BASE" not in os.environ
    assert not any(type(f).__name__ == "TiktokenFinder" for f in sys.meta_path)


def test_an_empty_value_is_replaced(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """openai-harmony fails on TIKTOKEN_ENCODINGS_BASE="" (it reads "/o200k_base.tiktoken")."""
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", "")
    startup.run()
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(site)


def test_redoes_a_value_inherited_from_a_parent_registration(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = vocab_in(tmp_path / "model")
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", "/parent/choice")
    monkeypatch.setenv("HARMONY_VOCAB_REGISTERED", "package:/parent/choice")
    monkeypatch.setenv("HARMONY_VOCAB_MODEL_DIR", str(model))
    startup.run()
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(model)
    assert os.environ["HARMONY_VOCAB_REGISTERED"] == f"model:{model}"


def test_openai_harmonys_own_cache_is_left_to_it(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No verified copy in the tiers before it: openai-harmony reads its own cache itself."""
    (site / FILE).unlink()
    cache = tmp_path / "rs-cache"
    cache.mkdir()
    shutil.copy(SHARED_VOCAB / FILE, cache / PIN.cache_key)
    monkeypatch.setenv("TIKTOKEN_RS_CACHE_DIR", str(cache))
    monkeypatch.setenv("HARMONY_VOCAB_CACHE_DIR", str(tmp_path / "ours"))
    startup.run()
    assert "TIKTOKEN_ENCODINGS_BASE" not in os.environ
    vocab_in(tmp_path / "ours")  # our cache comes before it, and has the canonical name
    assert startup.selection(os.environ) == ("cache", str(tmp_path / "ours"))


def test_runs_once_per_process_and_never_raises(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    startup.run()
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", "/changed")
    monkeypatch.setenv("HARMONY_VOCAB_REGISTERED", "package:/changed")
    startup.run()  # site read the .pth twice: nothing more happens
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == "/changed"
    module = importlib.reload(startup)
    monkeypatch.setattr(module, "selection", lambda *a: 1 / 0)
    monkeypatch.delenv("TIKTOKEN_ENCODINGS_BASE")
    module.run()  # a broken state is left for resolve() to report
    assert "TIKTOKEN_ENCODINGS_BASE" not in os.environ


def test_a_model_directory_for_the_other_vocab_is_not_warned_about(tmp_path: Path) -> None:
    """A GPT-OSS repository holds o200k only: looking there for cl100k_base is no mistake."""
    model = vocab_in(tmp_path / "gpt-oss" / "original").parent
    cl100k = [p for p in tiers.places(PINS["cl100k_base"], {"HARMONY_VOCAB_MODEL_DIR": str(model)}) if p.tier == "model"]
    assert [p.on_failure for p in cl100k if p.paths is None] == [tiers.QUIET]
    empty = tmp_path / "empty-model"
    empty.mkdir()
    nothing = [p for p in tiers.places(PINS["cl100k_base"], {"HARMONY_VOCAB_MODEL_DIR": str(empty)}) if p.tier == "model"]
    assert [p.on_failure for p in nothing if p.paths is None] == [tiers.WARN]


def test_a_relative_setting_with_the_current_directory_gone(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    monkeypatch.setenv("HARMONY_VOCAB_MODEL_DIR", "m")
    monkeypatch.setenv("HARMONY_VOCAB_O200K_BASE", "x/o200k_base.tiktoken")
    assert startup.selection(os.environ) == ("package", str(site))


def test_tiktoken_encodings_base_is_taken_as_openai_harmony_takes_it(site: Path, tmp_path: Path) -> None:
    """openai-harmony expands no ~: neither do we, for its variable (ours expand it)."""
    home = tmp_path / "home"
    vocab_in(home / "enc")
    base = {"HOME": str(home), "TIKTOKEN_ENCODINGS_BASE": "~/enc"}
    (env_place,) = [p for p in tiers.places(PIN, base) if p.label.startswith("TIKTOKEN_ENCODINGS_BASE")]
    assert env_place.paths is not None and "~" in env_place.paths[0] and not os.path.exists(env_place.paths[0])
    ours = {"HOME": str(home), "HARMONY_VOCAB_O200K_BASE": "~/enc/o200k_base.tiktoken"}
    assert startup.selection(ours) == ("environment", str(home / "enc"))


def test_empty_foreign_variables_mean_what_their_owners_make_of_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # openai-harmony (Rust): TIKTOKEN_RS_CACHE_DIR="" and TMPDIR="" are the current directory
    assert tiers.harmony_cache_dir({"TIKTOKEN_RS_CACHE_DIR": ""}) == str(tmp_path)
    assert tiers.harmony_cache_dir({"TMPDIR": ""}) == str(tmp_path / "tiktoken-rs-cache")
    assert tiers.harmony_cache_dir({}) == "/tmp/tiktoken-rs-cache"
    # tiktoken: TIKTOKEN_CACHE_DIR="" switches its cache off
    assert tiers.tiktoken_cache_dir({"TIKTOKEN_CACHE_DIR": ""}) is None
    # ours: empty is unset
    assert tiers.cache_dir({"HARMONY_VOCAB_CACHE_DIR": "", "HOME": "/h"}) == "/h/.cache/harmony-vocab"


# ------------------------------------------------------------------ the shim's constants

class Recording(dict):  # type: ignore[type-arg]
    """An environment that records every variable read from it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read: Set[str] = set()

    def get(self, key: Any, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: Any) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: Any) -> bool:
        self.read.add(key)
        return super().__contains__(key)


def test_the_shims_constants_are_what_the_package_derives() -> None:
    assert (startup.AUTOREGISTER, startup.REGISTERED, startup.BASE) == (
        tiers.ENV_AUTOREGISTER, tiers.ENV_REGISTERED, tiers.TIKTOKEN_ENCODINGS_BASE)
    assert harmony_vocab._REGISTERED == tiers.ENV_REGISTERED  # the package's own copy, for its import
    assert (startup.FILE, startup.SIZE) == (PIN.file, PIN.size)
    mirror = SHARED_VOCAB / PIN.file
    check_file(mirror, PIN.files[0])  # the mirror's copy is the pinned one (sha256)
    data = mirror.read_bytes()
    assert startup.SAMPLE == b"".join(data[o:o + 16] for o in startup.sample_offsets(PIN.size)).hex()
    assert startup.looks_pinned(str(mirror))
    # BEFORE_PACKAGE: the variables the lookup order reads before it reaches the package tier.
    env = Recording()
    read_before: Set[str] = set()
    for place in tiers.places(PIN, env):
        if place.tier == "package":
            read_before = set(env.read)
            break
    assert read_before == set(startup.BEFORE_PACKAGE)


def test_the_fast_path_selects_what_the_whole_lookup_selects(site: Path, tmp_path: Path) -> None:
    """With every setting that comes after the package tier set, the shortcut and
    tiers.startup_selection agree (those settings cannot change the answer)."""
    vocab_in(tmp_path / "ours")
    env = {"HOME": str(tmp_path), "HARMONY_VOCAB_CACHE_DIR": str(tmp_path / "ours"),
           "TIKTOKEN_RS_CACHE_DIR": str(tmp_path / "rs"), "TIKTOKEN_CACHE_DIR": str(tmp_path / "tk")}
    assert startup.selection(env) == tiers.startup_selection(env, startup.looks_pinned) == ("package", str(site))
    (site / FILE).unlink()
    assert startup.selection(env) == tiers.startup_selection(env, startup.looks_pinned) == ("cache", str(tmp_path / "ours"))


# ------------------------------------------------------------------ the .pth line and the .start file

def pth_lines() -> List[str]:
    """The lines of harmony_vocab.pth that site executes (those starting with "import")."""
    text = (SRC / "harmony_vocab.pth").read_text("utf-8")
    return [ln for ln in text.splitlines() if ln.startswith(("import ", "import\t"))]


OPT_OUT_VALUES = ["", "0", "false", "FALSE", " off ", "no", "No", "\t0\n", "1", "true", "on", "yes", "2",
                  "disabled", "0x", "nope"]


def test_the_pth_lines_opt_out_words_are_the_shims(tmp_path: Path) -> None:
    """The .pth line decides, before importing the shim, whether to run it: for every value its
    decision is the shim's `enabled`. Each value in a fresh interpreter with no site (-S), the
    .pth line executed as site executes it."""
    (line,) = pth_lines()
    probe = (f"import os, sys, json; exec({line!r}); "
             "print(json.dumps(['_harmony_vocab_startup' in sys.modules, "
             "'TIKTOKEN_ENCODINGS_BASE' in os.environ, "
             "any(type(f).__name__ == 'TiktokenFinder' for f in sys.meta_path)]))")
    outcomes = {}
    for value in OPT_OUT_VALUES:
        env = clean_env(tmp_path, PYTHONPATH=str(SRC), HARMONY_VOCAB_AUTOREGISTER=value)
        proc = run([sys.executable, "-S", "-c", probe], env=env)
        outcomes[value] = json.loads(proc.stdout)
    for value, (imported, registered, finder) in outcomes.items():
        expected = startup.enabled({"HARMONY_VOCAB_AUTOREGISTER": value})
        assert (imported, registered, finder) == (expected, expected, expected), value
    assert {v for v, o in outcomes.items() if not o[0]} == {"0", "false", "FALSE", " off ", "no", "No", "\t0\n"}


def start_entry() -> str:
    """The entry point harmony_vocab.start names (PEP 829: one non-comment line)."""
    lines = [ln.strip() for ln in (SRC / "harmony_vocab.start").read_text("utf-8").splitlines()]
    (entry,) = [ln for ln in lines if ln and not ln.startswith("#")]
    return entry


def test_the_start_file_names_the_start_up_run(tmp_path: Path) -> None:
    """PEP 829 (Python 3.15+ runs the .start entry point instead of the .pth line): the entry
    resolves to a callable, and calling it in an interpreter where no .pth ran registers the
    vocab directory and installs the tiktoken finder."""
    entry = start_entry()
    assert callable(pkgutil.resolve_name(entry))
    code = ("import os, sys, pkgutil, json\n"
            "before = [os.environ.get('TIKTOKEN_ENCODINGS_BASE'), "
            "any(type(f).__name__ == 'TiktokenFinder' for f in sys.meta_path)]\n"
            f"pkgutil.resolve_name({entry!r})()\n"
            "after = [os.environ.get('TIKTOKEN_ENCODINGS_BASE'), "
            "any(type(f).__name__ == 'TiktokenFinder' for f in sys.meta_path)]\n"
            "print(json.dumps([before, after]))")
    proc = run([sys.executable, "-S", "-c", code], env=clean_env(tmp_path, PYTHONPATH=str(SRC)))
    before, after = json.loads(proc.stdout)
    assert before == [None, False]
    assert after == [str(SRC / "harmony_vocab" / "data"), True]


# ------------------------------------------------------------------ directories openai-harmony must not get

def test_a_non_utf8_directory_is_never_registered(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17.7: openai-harmony (Rust) reads its variable as UTF-8; a directory whose name is
    not is passed over for the next tier. Control: the same file under a UTF-8 name is taken."""
    readable = vocab_in(tmp_path / "jürgen")
    monkeypatch.setenv("HARMONY_VOCAB_O200K_BASE", str(readable / FILE))
    assert startup.selection(os.environ) == ("environment", str(readable))
    unreadable = vocab_in(Path(os.fsdecode(bytes(tmp_path) + b"/j\xfcrgen")))
    monkeypatch.setenv("HARMONY_VOCAB_O200K_BASE", str(unreadable / FILE))
    assert startup.selection(os.environ) == ("package", str(site))
    monkeypatch.setenv("HARMONY_VOCAB_MODEL_DIR", str(unreadable))
    assert startup.selection(os.environ) == ("package", str(site))
    startup.run()
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(site)


OTHER_USER = "hv-test-mallory"


@pytest.fixture(scope="module")
def other_user() -> str:
    if os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("setpriv") is None:
        pytest.skip("needs root, useradd and setpriv to act as a second user")
    if subprocess.run(["id", OTHER_USER], capture_output=True).returncode != 0:
        run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER_USER])
    return OTHER_USER


@pytest.fixture
def sticky_dir() -> Iterator[Path]:
    """A world-writable sticky directory, as /tmp is, that every user can reach."""
    base = Path(tempfile.mkdtemp(prefix="hv-sticky-", dir="/tmp"))
    try:
        base.chmod(0o755)
        shared = base / "shared"
        shared.mkdir()
        shared.chmod(0o1777)
        yield shared
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_directory_another_user_planted_in_a_sticky_dir_is_never_registered(
        other_user: str, sticky_dir: Path, tmp_path: Path) -> None:
    """Issue 17.6: HARMONY_VOCAB_MODEL_DIR=openai/gpt-oss-20b run from a shared /tmp-like
    directory, where another user made ./openai/gpt-oss-20b holding a file of the right size and
    sampled bytes that fails its sha256: the registration (a real interpreter start) skips it and
    takes the genuine copy in the Hugging Face hub cache. Control: the same directory made by the
    user themselves is taken first (a local directory beats a repo id, as in transformers)."""
    planted = vocab_in(sticky_dir.parent / "planted")  # readable by the other user
    damage(planted / FILE, startup.sample_offsets(PIN.size)[2] + 100)  # between the samples
    planted.chmod(0o755)
    (planted / FILE).chmod(0o644)
    script = f'mkdir -p openai/gpt-oss-20b && cp {planted / FILE} openai/gpt-oss-20b/'
    made = subprocess.run(["setpriv", f"--reuid={other_user}", f"--regid={other_user}", "--clear-groups",
                           "sh", "-c", script], cwd=sticky_dir, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    assert (sticky_dir / "openai").stat().st_uid != os.geteuid()
    hub = tmp_path / "hub"
    snapshot = vocab_in(hub / "models--openai--gpt-oss-20b" / "snapshots" / ("a" * 40) / "original")
    (hub / "models--openai--gpt-oss-20b" / "refs").mkdir()
    (hub / "models--openai--gpt-oss-20b" / "refs" / "main").write_text("a" * 40)
    code = "import os; print(os.environ.get('TIKTOKEN_ENCODINGS_BASE'))"
    env = clean_env(tmp_path / "victim", HARMONY_VOCAB_MODEL_DIR="openai/gpt-oss-20b", HF_HUB_CACHE=str(hub))
    proc = run([sys.executable, "-c", code], env=env, cwd=sticky_dir)
    assert proc.stdout.strip() == str(snapshot)
    # Control: the user's own directory there is taken (a genuine copy, since it is theirs).
    shutil.rmtree(sticky_dir / "openai")
    own = vocab_in(sticky_dir / "openai" / "gpt-oss-20b")
    proc = run([sys.executable, "-c", code], env=env, cwd=sticky_dir)
    assert proc.stdout.strip() == str(own)
