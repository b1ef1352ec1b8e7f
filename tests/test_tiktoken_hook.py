"""Unmodified tiktoken, offline, with no step (issue 8): the start-up finder and
harmony_vocab.tiktoken, in fresh venvs holding the real wheel and the real tiktoken from
PyPI, run under ``unshare -n`` with HOME and TMPDIR fresh and no steering variable set."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

import pytest

from support import SHARED_VOCAB, clean_env, offline, run, run_python, venv_python

pytestmark = pytest.mark.integration

CANONICAL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"

CORPUS = (
    "Hello, world! Réponds en français. 日本語のテキスト、中文文本。 한국어 텍스트. "
    "Ελληνικά και русский текст. العربية עברית 😀🚀👩‍💻 🇫🇷 "
    "def f(x):\n    return {'k': [x ** 2 for _ in range(3)]}  # code\n\n\n\t\tindented   spaces\r\n"
    "12345678 3.14159 0xDEADBEEF  trailing   "
)

# Every call of issue 8 item 1: the encoding each gives, and the ids of the corpus.
CALLS = textwrap.dedent(
    """
    import json, sys, tiktoken
    corpus = sys.argv[1]
    names = [n for n in ("o200k_base", "cl100k_base", "o200k_harmony") if n in tiktoken.list_encoding_names()]
    out = {}
    for name in names:
        out[name] = tiktoken.get_encoding(name).encode(corpus, allowed_special="all")
    for model in ("gpt-4o", "gpt-4", "gpt-3.5-turbo"):
        enc = tiktoken.encoding_for_model(model)
        out[model] = [enc.name, enc.encode(corpus)]
    print(json.dumps(out))
    """
)


def calls(venv: Path, home: Path, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    """Run `CALLS` on the corpus with the venv's Python, offline, in a clean environment."""
    home.mkdir(parents=True, exist_ok=True)
    script = home / "calls.py"
    script.write_text(CALLS)
    return run_python(venv, home, f"import runpy, sys; sys.argv = ['calls', {CORPUS!r}]; "
                                   f"runpy.run_path({str(script)!r}, run_name='__main__')", check, **env)


def tiktokens_own_cache(directory: Path, names: Tuple[str, ...] = ("o200k_base", "cl100k_base")) -> Path:
    """A tiktoken cache laid out as tiktoken itself lays it out (sha1 of the URL), from the mirror:
    what tiktoken's own code reads when harmony-vocab is out of the way."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        key = hashlib.sha1(CANONICAL.format(name).encode()).hexdigest()
        shutil.copy(SHARED_VOCAB / f"{name}.tiktoken", directory / key)
    return directory


def last_error_line(stderr: str) -> str:
    """The exception line of a traceback, object addresses masked."""
    line = [ln for ln in stderr.strip().splitlines() if ln and not ln.startswith(" ")][-1]
    return re.sub(r"0x[0-9a-f]+", "0x?", line)


def test_every_call_works_offline_with_no_step_and_as_tiktoken_itself_would(full_venv: Path, tmp_path: Path) -> None:
    ours = calls(full_venv, tmp_path / "hook")
    served = json.loads(ours.stdout)
    assert set(served) == {"o200k_base", "cl100k_base", "o200k_harmony", "gpt-4o", "gpt-4", "gpt-3.5-turbo"}
    assert [served[m][0] for m in ("gpt-4o", "gpt-4", "gpt-3.5-turbo")] == ["o200k_base", "cl100k_base", "cl100k_base"]
    # The hook wrote nothing: no tiktoken cache appeared.
    assert not (tmp_path / "hook" / "tmp" / "data-gym-cache").exists()
    # tiktoken's own code, from its own cache, gives the same ids.
    own = calls(full_venv, tmp_path / "own", HARMONY_VOCAB_AUTOREGISTER="0",
                TIKTOKEN_CACHE_DIR=str(tiktokens_own_cache(tmp_path / "tk")))
    assert json.loads(own.stdout) == served


def test_without_the_hook_the_same_calls_fail_with_tiktokens_network_error(full_venv: Path, tmp_path: Path) -> None:
    proc = calls(full_venv, tmp_path, check=False, HARMONY_VOCAB_AUTOREGISTER="0")
    assert proc.returncode != 0
    assert "ConnectionError" in last_error_line(proc.stderr)
    assert "openaipublic.blob.core.windows.net" in proc.stderr


GPT_OSS_TOKENIZER = textwrap.dedent(
    """
    import json, sys, tiktoken
    from openai_harmony import HarmonyEncodingName, load_harmony_encoding

    def get_tokenizer():  # as gpt_oss/tokenizer.py, the GPT-OSS reference implementation, builds it
        o200k_base = tiktoken.get_encoding("o200k_base")
        return tiktoken.Encoding(
            name="o200k_harmony",
            pat_str=o200k_base._pat_str,
            mergeable_ranks=o200k_base._mergeable_ranks,
            special_tokens={
                **o200k_base._special_tokens,
                "<|startoftext|>": 199998, "<|endoftext|>": 199999, "<|reserved_200000|>": 200000,
                "<|reserved_200001|>": 200001, "<|return|>": 200002, "<|constrain|>": 200003,
                "<|reserved_200004|>": 200004, "<|channel|>": 200005, "<|start|>": 200006,
                "<|end|>": 200007, "<|message|>": 200008, "<|reserved_200009|>": 200009,
                "<|reserved_200010|>": 200010, "<|reserved_200011|>": 200011, "<|call|>": 200012,
                **{f"<|reserved_{i}|>": i for i in range(200013, 201088)},
            },
        )

    text = sys.argv[1]
    ours = get_tokenizer().encode(text, allowed_special="all")
    harmony = load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS).encode(text, allowed_special="all")
    print(json.dumps({"reference": ours, "openai_harmony": harmony}))
    """
)

HARMONY_TEXT = (
    "<|start|>system<|message|>You are ChatGPT.<|end|><|start|>user<|message|>" + CORPUS
    + "<|end|><|start|>assistant<|channel|>analysis<|message|>think<|end|>"
    "<|start|>assistant<|channel|>commentary to=functions.f <|constrain|>json<|message|>{\"x\": 1}<|call|>"
    "<|start|>assistant<|channel|>final<|message|>Quatre: 4<|return|><|endoftext|>"
)


def test_the_gpt_oss_reference_tokenizer_matches_openai_harmony(full_venv: Path, tmp_path: Path) -> None:
    script = tmp_path / "gpt_oss_tokenizer.py"
    script.write_text(GPT_OSS_TOKENIZER)
    proc = run_python(full_venv, tmp_path, f"import runpy, sys; sys.argv = ['t', {HARMONY_TEXT!r}]; "
                                           f"runpy.run_path({str(script)!r}, run_name='__main__')")
    ids = json.loads(proc.stdout)
    assert ids["reference"] == ids["openai_harmony"]
    assert {200006, 200008, 200007, 200005, 200003, 200012, 200002, 199999} <= set(ids["reference"])
    assert len(ids["reference"]) > 100


def test_a_vocab_we_do_not_ship_fails_exactly_as_without_us(full_venv: Path, tmp_path: Path) -> None:
    code = "import tiktoken; tiktoken.get_encoding('r50k_base')"
    with_us = run_python(full_venv, tmp_path / "a", code, check=False)
    without = run_python(full_venv, tmp_path / "b", code, check=False, HARMONY_VOCAB_AUTOREGISTER="0")
    assert with_us.returncode == without.returncode != 0
    assert last_error_line(with_us.stderr) == last_error_line(without.stderr)
    assert "r50k_base.tiktoken" in with_us.stderr and "harmony_vocab" not in last_error_line(with_us.stderr)


def test_a_tampered_bundled_copy_never_reaches_tiktoken(make_venv: Callable[..., Path], dist: Dict[str, Path],
                                                         tmp_path: Path) -> None:
    venv = make_venv(str(dist["wheel"]), "tiktoken")
    bundled = next(venv.glob("lib/python*/site-packages/harmony_vocab/data/o200k_base.tiktoken"))
    data = bytearray(bundled.read_bytes())
    data[len(data) // 2] ^= 0x01  # same size, one byte off: the start-up check cannot see it
    bundled.write_bytes(bytes(data))
    code = "import tiktoken; print(tiktoken.get_encoding('o200k_base').encode('hello world'))"
    proc = run_python(venv, tmp_path / "a", code, check=False)
    assert proc.returncode != 0
    assert "ConnectionError" in last_error_line(proc.stderr)  # tiktoken's own path, offline
    # With a good copy in tiktoken's own cache, the lookup order finds that one instead.
    cache = tiktokens_own_cache(tmp_path / "tk", ("o200k_base",))
    proc = run_python(venv, tmp_path / "b", code + "; import harmony_vocab as hv; print(hv.resolve('o200k_base').tier)",
                      TIKTOKEN_CACHE_DIR=str(cache))
    assert proc.stdout.split("\n")[:2] == ["[24912, 2375]", "cache"]


@pytest.mark.slow
def test_the_oldest_supported_tiktoken(make_venv: Callable[..., Path], dist: Dict[str, Path], tmp_path: Path) -> None:
    """The oldest tiktoken of the extra (pyproject: tiktoken>=0.7), and tiktoken's own result."""
    oldest = re.search(r'"tiktoken>=([\d.]+)"', (Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert oldest is not None
    venv = make_venv(str(dist["wheel"]), f"tiktoken=={oldest.group(1)}")
    version = run([venv_python(venv), "-c", "import tiktoken.load, importlib.metadata as m; print(m.version('tiktoken'))"])
    assert version.stdout.strip() == oldest.group(1)
    served = json.loads(calls(venv, tmp_path / "hook").stdout)
    assert "o200k_base" in served and "cl100k_base" in served
    own = calls(venv, tmp_path / "own", HARMONY_VOCAB_AUTOREGISTER="0",
                TIKTOKEN_CACHE_DIR=str(tiktokens_own_cache(tmp_path / "tk")))
    assert json.loads(own.stdout) == served
    assert calls(venv, tmp_path / "off", check=False, HARMONY_VOCAB_AUTOREGISTER="0").returncode != 0


# ----------------------------------------------------------------------------- two users, one /tmp

USERS = ("hv-test-alice", "hv-test-bob")


@pytest.fixture(scope="module")
def two_users() -> Tuple[str, str]:
    if os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("setpriv") is None:
        pytest.skip("needs root, useradd and setpriv to run as two users")
    for user in USERS:
        if subprocess.run(["id", user], capture_output=True).returncode != 0:
            run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", user])
    return USERS


@pytest.fixture(scope="module")
def shared_venv(dist: Dict[str, Path]) -> Iterator[Path]:
    """A venv every user can run (the system Python; pyenv's lives under root's closed home),
    with the wheel and tiktoken, in a directory open to all."""
    python = shutil.which("python3", path="/usr/bin") or sys.executable
    base = Path(tempfile.mkdtemp(prefix="hv-shared-venv-", dir="/tmp"))
    base.chmod(0o755)
    venv = base / "venv"
    probe = subprocess.run([python, "-m", "venv", venv], capture_output=True, text=True)
    if probe.returncode != 0:
        shutil.rmtree(base)
        pytest.skip(f"{python} cannot make a venv: {probe.stderr.strip()[-200:]}")
    wheel = base / dist["wheel"].name
    shutil.copy(dist["wheel"], wheel)
    run([venv_python(venv), "-m", "pip", "install", "-q", wheel, "tiktoken"])
    run(["chmod", "-R", "a+rX", base])
    yield venv
    shutil.rmtree(base, ignore_errors=True)


def as_user(user: str, home: Path, tmpdir: Path, *cmd: str) -> subprocess.CompletedProcess:
    """`cmd` as `user` with umask 077, offline, with only PATH, HOME and TMPDIR set."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(tmpdir), "LANG": "C.UTF-8"}
    as_them = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups",
               "sh", "-c", 'umask 077 && exec "$@"', "sh", *cmd]
    return subprocess.run(offline(as_them), env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_two_users_sharing_a_sticky_tmp_both_get_tiktoken_offline(two_users: Tuple[str, str], shared_venv: Path) -> None:
    base = Path(tempfile.mkdtemp(prefix="hv-two-users-", dir="/tmp"))
    try:
        base.chmod(0o755)
        shared_tmp = base / "tmp"
        shared_tmp.mkdir()
        shared_tmp.chmod(0o1777)  # sticky, as /tmp is
        code = "import tiktoken; print(tiktoken.get_encoding('o200k_base').encode('hello world'))"
        outcomes: List[str] = []
        for user in two_users:
            home = base / user
            home.mkdir()
            shutil.chown(home, user, user)
            proc = as_user(user, home, shared_tmp, str(venv_python(shared_venv)), "-c", code)
            assert proc.returncode == 0, proc.stderr
            outcomes.append(proc.stdout.strip())
        assert outcomes == ["[24912, 2375]"] * 2
        # The first user's tiktoken cache (umask 077) does not break the second one's.
        alice, bob = two_users
        hv = str(shared_venv / "bin" / "harmony-vocab")
        seeded = as_user(alice, base / alice, shared_tmp, hv, "seed-cache", "--tiktoken", str(shared_tmp / "data-gym-cache"))
        assert seeded.returncode == 0, seeded.stderr
        proc = as_user(bob, base / bob, shared_tmp, str(venv_python(shared_venv)), "-c", code)
        assert proc.returncode == 0 and proc.stdout.strip() == "[24912, 2375]", proc.stderr
        control = as_user(bob, base / bob, shared_tmp, "env", "HARMONY_VOCAB_AUTOREGISTER=0",
                          str(venv_python(shared_venv)), "-c", code)
        assert control.returncode != 0  # without the hook, bob cannot read alice's cache
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_tiktoken_encoding_leaves_tiktoken_alone_for_other_threads(full_venv: Path, tmp_path: Path) -> None:
    """tiktoken_encoding with an explicit file, looping in one thread, while another thread builds
    tiktoken's own encodings: tiktoken's module is never touched, so the other thread never gets
    our loader (nor the explicit cl100k file as its o200k_base)."""
    cl100k = SHARED_VOCAB / "cl100k_base.tiktoken"
    code = textwrap.dedent(
        f"""
        import threading
        from harmony_vocab.tiktoken import tiktoken_encoding
        from tiktoken_ext import openai_public
        originals = (openai_public.load_tiktoken_bpe, openai_public.data_gym_to_mergeable_bpe_ranks)
        stop, errors, built = threading.Event(), [], []
        def ours():
            while not stop.is_set():
                try:
                    built.append(tiktoken_encoding("cl100k_base", vocab_path={str(cl100k)!r}).n_vocab)
                except Exception as exc:
                    errors.append(repr(exc)[:200])
                    return
        worker = threading.Thread(target=ours)
        worker.start()
        try:
            for i in range(200):  # at least 12 rounds, and until the other thread has built once
                try:
                    ranks = openai_public.o200k_base()["mergeable_ranks"]
                    assert len(ranks) == 199998, len(ranks)
                except Exception as exc:
                    errors.append(repr(exc)[:200])
                assert (openai_public.load_tiktoken_bpe, openai_public.data_gym_to_mergeable_bpe_ranks) == originals
                if i >= 11 and (built or errors):
                    break
        finally:
            stop.set()
            worker.join()
        print("errors:", errors, "built:", bool(built) and set(built) == {{100277}}, sorted(set(built)))
        """
    )
    assert run_python(full_venv, tmp_path, code).stdout.strip() == "errors: [] built: True [100277]"


@pytest.mark.slow
def test_doctor_on_a_tiktoken_the_hook_cannot_serve(make_venv: Callable[..., Path], dist: Dict[str, Path],
                                                    tmp_path: Path) -> None:
    """tiktoken 0.5.2 (older than the extra allows) reads vocabs without a hash argument: the hook
    leaves it alone, and doctor says so (exit 1) instead of promising offline loads."""
    venv = make_venv(str(dist["wheel"]), "tiktoken==0.5.2")
    proc = run_python(venv, tmp_path, "import tiktoken; tiktoken.get_encoding('cl100k_base')", check=False)
    assert proc.returncode != 0 and "ConnectionError" in last_error_line(proc.stderr)
    doctor = run(offline([venv / "bin" / "harmony-vocab", "doctor", "--json"]), env=clean_env(tmp_path), check=False)
    report = json.loads(doctor.stdout)
    assert doctor.returncode == 1 and report["ok"] is False
    assert report["tiktoken_hook"]["active"] is False
    assert "does not know" in report["tiktoken_hook"]["detail"]
    assert report["vocabs"]["cl100k_base"]["tiktoken"]["status"] == "network"
    assert report["vocabs"]["o200k_base"]["tiktoken"]["status"] == "not used"  # 0.5.2 has no o200k_base


# ----------------------------------------------------------------------------- other imports (issue 17.1)

USER_FINDER = textwrap.dedent(
    """
    import importlib.machinery, os, sys, tempfile
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "mymod.py"), "w") as f:
        f.write("X = 42\\n")
    sys.path.insert(0, d)

    class Observer:  # a plugin finder that needs tiktoken while it looks at an import
        def find_spec(self, name, path=None, target=None):
            if name == "mymod":
                import tiktoken.load
            return None

    class OldStyle:  # what the finder did before issue 17.1: leave sys.meta_path while it is walked
        def find_spec(self, name, path=None, target=None):
            if name == "tiktoken.load":
                sys.meta_path.remove(self)
            return None

    if sys.argv[1] == "old":
        sys.meta_path.insert(0, OldStyle())
    # right before the finder that finds mymod: a finder leaving the list makes the walk skip it
    sys.meta_path.insert(sys.meta_path.index(importlib.machinery.PathFinder), Observer())
    try:
        import mymod
        print("found", mymod.X)
    except ModuleNotFoundError as exc:
        print("lost", exc)
    import tiktoken
    print("served", getattr(sys.modules["tiktoken.load"].load_tiktoken_bpe, "__harmony_vocab__", False))
    """
)


def user_finder(venv: Path, home: Path, mode: str, **env: str) -> List[str]:
    home.mkdir(parents=True, exist_ok=True)
    script = home / "user_finder.py"
    script.write_text(USER_FINDER)
    code = f"import runpy, sys; sys.argv = ['u', {mode!r}]; runpy.run_path({str(script)!r}, run_name='__main__')"
    return run_python(venv, home, code, **env).stdout.splitlines()


def test_a_finder_importing_tiktoken_during_an_import_loses_nothing(full_venv: Path, tmp_path: Path) -> None:
    """A user finder whose find_spec imports tiktoken.load while `import mymod` is looked up:
    mymod is still found, and tiktoken.load is served. Control: with the opt-out, the same. And
    the scenario does catch a finder that leaves sys.meta_path during the walk (the old one)."""
    assert user_finder(full_venv, tmp_path / "hook", "new") == ["found 42", "served True"]
    assert user_finder(full_venv, tmp_path / "off", "new", HARMONY_VOCAB_AUTOREGISTER="0") == [
        "found 42", "served False"]
    old = user_finder(full_venv, tmp_path / "old", "old", HARMONY_VOCAB_AUTOREGISTER="0")
    assert old[0] == "lost No module named 'mymod'"


def test_a_probe_of_tiktoken_load_leaves_the_real_import_served(full_venv: Path, tmp_path: Path) -> None:
    """importlib.util.find_spec("tiktoken.load") loads nothing: the import that follows is still
    served, offline, with no tiktoken cache. Control: the same with the opt-out fails."""
    code = ("import importlib.util; assert importlib.util.find_spec('tiktoken.load') is not None; "
            "import sys; assert 'tiktoken.load' not in sys.modules; "
            "import tiktoken; print(tiktoken.get_encoding('cl100k_base').encode('hello world'))")
    proc = run_python(full_venv, tmp_path / "hook", code)
    assert proc.stdout.strip() == "[15339, 1917]"
    assert not (tmp_path / "hook" / "tmp" / "data-gym-cache").exists()
    control = run_python(full_venv, tmp_path / "off", code, check=False, HARMONY_VOCAB_AUTOREGISTER="0")
    assert control.returncode != 0 and "ConnectionError" in last_error_line(control.stderr)


SIX_STYLE = textwrap.dedent(
    """
    import importlib.machinery, sys, threading, types

    class SixImporter:  # as six._SixMetaPathImporter: appended to sys.meta_path, serves its own names
        def find_spec(self, name, path=None, target=None):
            if name.startswith("sixmoves_"):
                return importlib.machinery.ModuleSpec(name, self)
            return None
        def create_module(self, spec):
            return types.ModuleType(spec.name)
        def exec_module(self, module):
            module.ok = True

    sys.meta_path.append(SixImporter())
    start, lost = threading.Barrier(41), []

    def importer(i):
        start.wait()
        for j in range(50):
            try:
                __import__(f"sixmoves_{i}_{j}")
            except ImportError as exc:
                lost.append(str(exc))

    def tiktoken_importer():
        start.wait()
        import tiktoken.load

    threads = [threading.Thread(target=importer, args=(i,)) for i in range(40)]
    threads.append(threading.Thread(target=tiktoken_importer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    import tiktoken
    served = getattr(sys.modules["tiktoken.load"].load_tiktoken_bpe, "__harmony_vocab__", False)
    print(len(lost), served, tiktoken.get_encoding("cl100k_base").encode("hello world"))
    """
)


def test_threads_importing_through_another_finder_lose_no_import(full_venv: Path, tmp_path: Path) -> None:
    """40 threads import modules a six-style finder serves while another thread imports tiktoken
    for the first time; a few rounds, each a fresh interpreter: no import is lost, and tiktoken
    is served offline."""
    script = tmp_path / "six_style.py"
    script.write_text(SIX_STYLE)
    for round_ in range(4):
        proc = run_python(full_venv, tmp_path / f"round{round_}", f"import runpy; runpy.run_path({str(script)!r})")
        assert proc.stdout.strip() == "0 True [15339, 1917]", proc.stderr


# ----------------------------------------------------------------------------- register() and workers (issue 16.3)

WORKERS = textwrap.dedent(
    """
    import multiprocessing as mp, os, sys
    import harmony_vocab

    def work(_):
        try:
            import tiktoken
            return str(tiktoken.get_encoding("cl100k_base").encode("hello world"))
        except Exception as exc:
            return type(exc).__name__

    if __name__ == "__main__":
        print("no site:", sys.flags.no_site, "registered at start:", "TIKTOKEN_ENCODINGS_BASE" in os.environ)
        if sys.argv[1] == "register":
            harmony_vocab.register()
        for method in ("spawn", "forkserver"):
            with mp.get_context(method).Pool(2) as pool:
                print(method, sorted(set(pool.map(work, range(2)))))
    """
)


def test_register_under_main_reaches_spawn_and_forkserver_workers(full_venv: Path, tmp_path: Path) -> None:
    """A program started with python -S (no .pth runs; harmony_vocab on PYTHONPATH) calls
    register() under `if __name__ == "__main__"`: its spawn and forkserver workers load tiktoken's
    cl100k_base offline. Control: without register(), the workers fail offline."""
    script = tmp_path / "workers.py"
    script.write_text(WORKERS)
    site_packages = next(full_venv.glob("lib/python*/site-packages"))

    def start(mode: str) -> List[str]:
        env = clean_env(tmp_path / mode, PYTHONPATH=str(site_packages))
        proc = run(offline([venv_python(full_venv), "-S", script, mode]), env=env, cwd=tmp_path)
        return proc.stdout.splitlines()

    assert start("register") == ["no site: 1 registered at start: False",
                                 "spawn ['[15339, 1917]']", "forkserver ['[15339, 1917]']"]
    assert start("control") == ["no site: 1 registered at start: False",
                                "spawn ['ConnectionError']", "forkserver ['ConnectionError']"]
