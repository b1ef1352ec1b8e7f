"""Issue 17, the second hostile pass: each numbered item and each "weak one", as the user sees it.

Only the command line (a subprocess), the public API and the start-up of a fresh interpreter are
used, so that these tests hold across a rewrite of the package's internals.
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest

import harmony_vocab

PY = sys.executable
ROOT = Path(__file__).resolve().parents[1]
STEERING = ("HARMONY_VOCAB_", "TIKTOKEN_", "DATA_GYM_", "HF_", "XDG_CACHE_HOME")
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (unshare, a second user)")
LOAD_HARMONY = ("import os; from openai_harmony import load_harmony_encoding, HarmonyEncodingName as N; "
                "print(os.environ.get('TIKTOKEN_ENCODINGS_BASE')); "
                "print(load_harmony_encoding(N.HARMONY_GPT_OSS).name)")
"""Unmodified openai-harmony: prints what the start-up registration set, then loads GPT-OSS."""


# ------------------------------------------------------------------------------------ helpers

def clean_env(tmp: Path, **extra: str) -> Dict[str, str]:
    """os.environ without the steering variables; HOME and TMPDIR fresh under `tmp`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(STEERING)}
    home = tmp / "home"
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), TMPDIR=str(home / "tmp"), NO_PROXY="127.0.0.1,localhost",
               no_proxy="127.0.0.1,localhost")
    env.update(extra)
    return env


def offline(cmd: List[Any]) -> List[str]:
    """`cmd` with no network at all (a new network namespace with only loopback)."""
    return ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *map(str, cmd)]


def run(cmd: List[Any], env: Dict[str, str], cwd: Optional[Path] = None, timeout: float = 120,
        net: bool = True, **kw: object) -> "subprocess.CompletedProcess[str]":
    cmd = [str(c) for c in cmd]
    return subprocess.run(cmd if net else offline(cmd), env=env, cwd=cwd, timeout=timeout,
                          capture_output=True, text=True, errors="replace", **kw)  # type: ignore[call-overload]


def cli(*args: object, env: Dict[str, str], **kw: object) -> "subprocess.CompletedProcess[str]":
    return run([PY, "-m", "harmony_vocab", *map(str, args)], env, **kw)  # type: ignore[arg-type]


def one_line(stderr: str) -> str:
    """The single line of `stderr`, after checking it is one line and no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def vocab_bytes(name: str) -> bytes:
    return Path(harmony_vocab.bundled_path(name)).read_bytes()


def free_port() -> int:
    """A 127.0.0.1 port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parts(directory: Path) -> List[str]:
    return [n for n in os.listdir(directory) if n.endswith(".part")] if directory.is_dir() else []


def wait_for_part(directory: Path) -> List[str]:
    """The part files a download in progress has made in `directory` (waits up to 60 s)."""
    deadline = time.monotonic() + 60
    while not parts(directory):
        if time.monotonic() > deadline:
            pytest.fail(f"no download started in {directory}")
        time.sleep(0.05)
    return parts(directory)


class Mirror(ThreadingHTTPServer):
    """A local http mirror of the bundled vocabs on 127.0.0.1; a name in `slow` is sent 64 KiB at
    once, then one byte every 0.2 s until `release` is set."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), MirrorHandler)
        self.release, self.slow = threading.Event(), set()  # type: ignore[var-annotated]
        self.url = f"http://127.0.0.1:{self.server_address[1]}/"
        threading.Thread(target=self.serve_forever, daemon=True).start()


class MirrorHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        name, mirror = self.path.rsplit("/", 1)[-1], self.server
        if name not in ("o200k_base.tiktoken", "cl100k_base.tiktoken"):
            return self.send_error(404)
        data = vocab_bytes(name[: -len(".tiktoken")])
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        sent = 65536 if name in mirror.slow else 0  # type: ignore[attr-defined]
        try:
            self.wfile.write(data[:sent])
            while sent and not mirror.release.wait(0.2):  # type: ignore[attr-defined]
                self.wfile.write(data[sent:sent + 1])
                self.wfile.flush()
                sent += 1
            self.wfile.write(data[sent:])
        except OSError:
            pass


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    server = Mirror()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def other_user() -> pwd.struct_passwd:
    """A second, unprivileged user (created when missing)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as a second user")
    if "hv17other" not in {u.pw_name for u in pwd.getpwall()}:
        subprocess.run(["useradd", "--no-create-home", "-s", "/bin/sh", "hv17other"], check=True)
    return pwd.getpwnam("hv17other")


def as_user(user: pwd.struct_passwd, cmd: List[object]) -> List[object]:
    return ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups", *cmd]


@pytest.fixture
def shared_base() -> Iterator[Path]:
    """A 0755 directory under /tmp that every user can reach (pytest's tmp_path is 0700)."""
    base = Path(tempfile.mkdtemp(prefix="hv17-", dir="/tmp"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


# ------------------------------------------------------- 1. the tiktoken finder and other imports

FINDER_BEFORE_PATHFINDER = """
import sys, importlib.machinery
sys.path.insert(0, {mods!r})
class UserFinder:
    def find_spec(self, fullname, path=None, target=None):
        if fullname == "mymod":
            import tiktoken.load
        return None
sys.meta_path.insert(sys.meta_path.index(importlib.machinery.PathFinder), UserFinder())
import mymod
print("found", mymod.X)
"""

SIX_STYLE_RACE = """
import sys, threading, importlib.machinery
class SixStyle:
    def find_spec(self, fullname, path=None, target=None):
        return importlib.machinery.ModuleSpec(fullname, self) if fullname.startswith("moved_") else None
    def create_module(self, spec): return None
    def exec_module(self, module): pass
sys.meta_path.append(SixStyle())
lost, done, start = [], threading.Event(), threading.Barrier(41)
def work(i):
    start.wait()
    j = 0
    while not done.is_set() or j < 5:
        j += 1
        try:
            __import__(f"moved_{i}_{j}")
        except ImportError as exc:
            lost.append(str(exc))
def first_tiktoken():
    start.wait()
    import tiktoken.load
    done.set()
threads = [threading.Thread(target=work, args=(i,)) for i in range(40)]
threads.append(threading.Thread(target=first_tiktoken))
for t in threads: t.start()
for t in threads: t.join()
print("lost", len(lost), lost[:1])
"""


@pytest.mark.parametrize("opt_out", [False, True], ids=["hook", "control-opt-out"])
def test_item1_finder_looking_up_tiktoken_does_not_hide_a_module(tmp_path: Path, opt_out: bool) -> None:
    """Item 1: a user finder importing tiktoken.load during `import mymod` still finds mymod."""
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "mymod.py").write_text("X = 1\n")
    env = clean_env(tmp_path, **({"HARMONY_VOCAB_AUTOREGISTER": "0"} if opt_out else {}))
    p = run([PY, "-c", FINDER_BEFORE_PATHFINDER.format(mods=str(tmp_path / "mods"))], env)
    assert p.returncode == 0 and "found 1" in p.stdout, p.stderr


@pytest.mark.parametrize("opt_out", [False, True], ids=["hook", "control-opt-out"])
def test_item1_threads_importing_through_a_six_style_finder_lose_nothing(tmp_path: Path, opt_out: bool) -> None:
    """Item 1: 40 threads importing via a six-style finder while tiktoken is first imported."""
    env = clean_env(tmp_path, **({"HARMONY_VOCAB_AUTOREGISTER": "0"} if opt_out else {}))
    for _ in range(5):  # a fresh interpreter per round: the hook acts once per process
        p = run([PY, "-c", SIX_STYLE_RACE], env)
        assert p.returncode == 0 and "lost 0 " in p.stdout, p.stdout + p.stderr


@ROOT_ONLY
@pytest.mark.parametrize("probe", [True, False], ids=["find_spec-probe", "control-no-probe"])
def test_item1_find_spec_probe_does_not_use_up_the_hook(tmp_path: Path, probe: bool) -> None:
    """Item 1: importlib.util.find_spec("tiktoken.load"), then a real import, is still served offline."""
    script = ("import importlib.util; " + ('importlib.util.find_spec("tiktoken.load"); ' if probe else "")
              + "import tiktoken; print(tiktoken.get_encoding('cl100k_base').encode('offline'))")
    p = run([PY, "-c", script], clean_env(tmp_path), net=False)  # no tiktoken cache in the fresh TMPDIR
    assert p.returncode == 0, p.stderr[-2000:]


# ------------------------------------------------------------------------- 2. PYTHONWARNINGS=error

@pytest.mark.parametrize("filters", ["", "error"], ids=["control-default", "PYTHONWARNINGS=error"])
@pytest.mark.parametrize("command", ["path", "export", "seed-cache"])
def test_item2_our_warning_is_one_line_whatever_the_filters(tmp_path: Path, command: str, filters: str) -> None:
    """Item 2: a VocabWarning is printed as one line and the command goes on under PYTHONWARNINGS=error."""
    missing = tmp_path / "nowhere" / "o200k_base.tiktoken"
    env = clean_env(tmp_path, HARMONY_VOCAB_O200K_BASE=str(missing), PYTHONWARNINGS=filters)
    args = {"path": ["path", "o200k_base"], "export": ["export", tmp_path / "dest"],
            "seed-cache": ["seed-cache", "--tiktoken", tmp_path / "tk"]}[command]
    p = cli(*args, env=env)
    assert p.returncode == 0, p.stderr
    assert str(missing) in one_line(p.stderr)


# ------------------------------------------------------------- 3. export and files it did not write

def test_item3_export_never_deletes_a_file_it_did_not_write(tmp_path: Path) -> None:
    """Item 3: user files that merely look like part files survive `export DIR`."""
    dest = tmp_path / "dest"
    dest.mkdir()
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32]
    names = [".notes.draft001.part", ".model.safetensors.resume_1.part", f".x.{host}.4194303.abcdefgh.part"]
    for name in names:
        (dest / name).write_text("the user's own work\n")
    for name in names[:2]:  # an hour old; the third, naming a pid not running, is fresh
        os.utime(dest / name, (time.time() - 7200,) * 2)
    p = cli("export", dest, env=clean_env(tmp_path))
    assert p.returncode == 0, p.stderr
    for name in names:
        assert (dest / name).is_file(), f"export deleted {name}"
        assert (dest / name).read_text() == "the user's own work\n"


# --------------------------------------------------------------------------------- 4. a held lock

def test_item4_held_lock_is_reported_and_given_up(tmp_path: Path) -> None:
    """Item 4: with the directory locked, export and seed-cache say they wait, then give up with one line naming it."""
    dest, cache = tmp_path / "dest", tmp_path / "tk-cache"
    env = clean_env(tmp_path)
    dest.mkdir()
    cache.mkdir()
    held = [os.open(d, os.O_RDONLY) for d in (dest, cache)]
    for fd in held:
        fcntl.flock(fd, fcntl.LOCK_EX)  # what another process (or user) holding the lock does
    procs = {d: subprocess.Popen([PY, "-m", "harmony_vocab", *args], env=env, text=True, errors="replace",
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for d, args in ((dest, ["export", str(dest)]), (cache, ["seed-cache", "--tiktoken", str(cache)]))}
    try:
        deadline = time.monotonic() + 120
        for d, proc in procs.items():
            try:
                _out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"{proc.args[3]} waited silently for the lock on {d} and never gave up")
            assert proc.returncode in (1, 2), err
            assert "Traceback" not in err and "wait" in err.lower(), err
            assert str(d) in err.strip().splitlines()[-1], err
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()
        for fd in held:
            os.close(fd)


# ------------------------------------------------------------------------------- 5. credentials

@ROOT_ONLY
@pytest.mark.parametrize("char", ["", "#", "/", "?", " "], ids=["control-plain", "hash", "slash", "query", "space"])
def test_item5_mirror_credentials_never_printed(tmp_path: Path, char: str) -> None:
    """Item 5: user and password of HARMONY_VOCAB_BASE_URL never reach the screen (fetch, doctor)."""
    url = f"http://alicezq:zqA{char}zqB@127.0.0.1:{free_port()}/"
    env = clean_env(tmp_path, HARMONY_VOCAB_BASE_URL=url, HARMONY_VOCAB_CACHE_DIR=str(tmp_path / "cache"))
    for args in (["fetch", "--name", "o200k_base", "--force"], ["doctor"]):
        p = cli(*args, env=env, net=False)
        for secret in ("alicezq", "zqA", "zqB"):
            assert secret not in p.stdout + p.stderr, (args, p.stdout + p.stderr)


@ROOT_ONLY
def test_item5_proxy_credentials_never_printed(tmp_path: Path) -> None:
    """Item 5: user and password of HTTPS_PROXY never reach the screen through requests' messages."""
    env = {k: v for k, v in clean_env(tmp_path).items() if "proxy" not in k.lower()}
    env.update(HTTPS_PROXY=f"http://pxuser:pxsecA#pxsecB@127.0.0.1:{free_port()}",
               HARMONY_VOCAB_CACHE_DIR=str(tmp_path / "cache"))
    for args in (["fetch", "--name", "o200k_base", "--force"], ["doctor"]):
        p = cli(*args, env=env, net=False)
        for secret in ("pxuser", "pxsecA", "pxsecB"):
            assert secret not in p.stdout + p.stderr, (args, p.stdout + p.stderr)


# --------------------------------------------------------- 6. another user's directory in /tmp

@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("owner", ["other", "self"], ids=["planted-by-other-user", "control-own-dir"])
def test_item6_other_users_dir_in_world_writable_place_is_never_registered(
        tmp_path: Path, shared_base: Path, other_user: pwd.struct_passwd, owner: str) -> None:
    """Item 6: ./openai/gpt-oss-20b owned by another user in a sticky dir is never handed to openai-harmony."""
    shared = shared_base / "sticky"
    shared.mkdir()
    shared.chmod(0o1777)
    genuine = vocab_bytes("o200k_base")
    if owner == "other":  # right size, right bytes but one (1000 is between the sampled offsets)
        planted = bytearray(genuine)
        planted[1000] = ord("A") if planted[1000] != ord("A") else ord("B")
        plant = 'mkdir -p openai/gpt-oss-20b && cat > openai/gpt-oss-20b/o200k_base.tiktoken'
        subprocess.run(as_user(other_user, ["sh", "-c", plant]), input=bytes(planted), cwd=shared, check=True)
    else:
        (shared / "openai" / "gpt-oss-20b").mkdir(parents=True)
        (shared / "openai" / "gpt-oss-20b" / "o200k_base.tiktoken").write_bytes(genuine)
    repo = tmp_path / "hub" / "models--openai--gpt-oss-20b"
    commit = "1" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "o200k_base.tiktoken").write_bytes(genuine)
    env = clean_env(tmp_path, HF_HUB_CACHE=str(tmp_path / "hub"), HARMONY_VOCAB_MODEL_DIR="openai/gpt-oss-20b")
    p = run([PY, "-c", LOAD_HARMONY], env, cwd=shared, net=False)
    registered = p.stdout.splitlines()[0] if p.stdout else ""
    if owner == "other":
        assert not registered.startswith(str(shared)), f"registered the other user's {registered}"
    else:
        assert registered == str(shared / "openai" / "gpt-oss-20b"), p.stdout + p.stderr
    assert p.returncode == 0, p.stderr[-2000:]


# ------------------------------------------------------------------- 7. a non-UTF-8 directory

@ROOT_ONLY
@pytest.mark.parametrize("dirname", [b"juergen", b"j\xfcrgen"], ids=["control-utf8", "latin1-name"])
def test_item7_doctor_and_openai_harmony_agree_on_a_non_utf8_directory(tmp_path: Path, dirname: bytes) -> None:
    """Item 7: HARMONY_VOCAB_O200K_BASE in a non-UTF-8 directory: openai-harmony loads offline, doctor agrees."""
    directory = os.path.join(os.fsencode(tmp_path), dirname)
    os.mkdir(directory)
    file = os.path.join(directory, b"o200k_base.tiktoken")
    shutil.copyfile(harmony_vocab.bundled_path("o200k_base"), file)
    env = clean_env(tmp_path, HARMONY_VOCAB_O200K_BASE=os.fsdecode(file))
    doctor = cli("doctor", "--json", env=env, net=False)
    predicted = json.loads(doctor.stdout)["vocabs"]["o200k_base"]["openai_harmony"]["status"]
    real = run([PY, "-c", LOAD_HARMONY], env, net=False)
    assert (predicted == "offline") == (real.returncode == 0), (predicted, real.stderr[-1000:])
    assert real.returncode == 0, "openai-harmony went to the network: " + real.stderr[-1000:]


# ------------------------------------------------------------- 8. an empty argument is not "."

@pytest.mark.parametrize("args, same_as", [
    (["verify", ""], ["verify"]),
    (["export", ""], None),
    (["seed-cache", "--tiktoken", ""], ["seed-cache"]),
    (["env", "--dir", ""], ["env"]),
], ids=["verify", "export", "seed-cache", "env"])
def test_item8_empty_argument_is_not_the_current_directory(tmp_path: Path, args: List[str],
                                                           same_as: Optional[List[str]]) -> None:
    """Item 8: an empty argument counts as not set, or is refused with one line; the current directory is untouched."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "notes.txt").write_text("mine\n")
    env = clean_env(tmp_path)
    p = cli(*args, env=env, cwd=cwd)
    assert os.listdir(cwd) == ["notes.txt"], f"{args} wrote into the current directory"
    if p.returncode == 2 or same_as is None:
        assert p.returncode in (1, 2)
        one_line(p.stderr)
    else:
        baseline = cli(*same_as, env=env, cwd=cwd)
        assert (p.returncode, p.stdout) == (baseline.returncode, baseline.stdout), p.stdout + p.stderr


# -------------------------------------------- 9. live parts and hosts of the same name elsewhere

REPLICA = "replica-" + "x" * 26  # two Kubernetes-style names that share their first 32 characters


@ROOT_ONLY
@pytest.mark.parametrize("hosts", [None, ("same", "same"), (REPLICA + "-a1", REPLICA + "-b2")],
                         ids=["control-same-pid-namespace", "same-hostname-own-pid-namespaces",
                              "hostnames-share-32-chars"])
def test_item9_a_live_part_is_never_swept_by_another_container(tmp_path: Path, mirror: Mirror,
                                                               hosts: Optional[tuple]) -> None:
    """Item 9: a second writer in another PID namespace (same or 32-char-equal hostname) leaves a live .part alone."""
    cache = tmp_path / "shared-cache"
    env = clean_env(tmp_path, HARMONY_VOCAB_CACHE_DIR=str(cache), HARMONY_VOCAB_BASE_URL=mirror.url)
    mirror.slow.add("o200k_base.tiktoken")

    def in_container(host: str, fetch: List[str], pad: bool) -> List[str]:
        # pad: a few processes first, so that its pid is not the other container's
        script = ('h=$1; py=$2; shift 2; hostname "$h"; ' + ("/bin/true; /bin/true; /bin/true; " if pad else "")
                  + '"$py" -m harmony_vocab "$@"')
        name = socket.gethostname() if host == "same" else host
        return ["unshare", "-u", "-p", "-f", "sh", "-c", script + "; exit $?", "sh", name, PY, *fetch]

    first = ["fetch", "--name", "o200k_base"]
    second = ["fetch", "--name", "cl100k_base"]
    cmd_a = [PY, "-m", "harmony_vocab", *first] if hosts is None else in_container(hosts[0], first, pad=True)
    a = subprocess.Popen(cmd_a, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        live = wait_for_part(cache)
        cmd_b = [PY, "-m", "harmony_vocab", *second] if hosts is None else in_container(hosts[1], second, pad=False)
        b = run(cmd_b, env)
        assert b.returncode == 0, b.stderr
        assert set(live) <= set(parts(cache)), "the second download swept the first one's live part"
        mirror.release.set()
        _out, err = a.communicate(timeout=120)
        assert a.returncode == 0, err
    finally:
        a.kill()
        a.wait()


# ---------------------------------------------------------------------- 10. a damaged install

@pytest.fixture(scope="module")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of this tree, built with pip from the packaged (verified) vocab files."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "vocab"
    source.mkdir()
    for name in ("o200k_base", "cl100k_base"):
        shutil.copyfile(harmony_vocab.bundled_path(name), source / f"{name}.tiktoken")
    env = clean_env(base, HARMONY_VOCAB_SOURCE_DIR=str(source), HARMONY_VOCAB_OFFLINE="1")
    p = run([PY, "-m", "pip", "wheel", "-q", "--no-deps", ROOT, "-w", base / "out"], env, timeout=600)
    assert p.returncode == 0, p.stderr
    return next((base / "out").glob("harmony_vocab-*.whl"))


@pytest.mark.slow
@pytest.mark.integration
def test_item10_damaged_startup_module_costs_at_most_one_line(tmp_path: Path, built_wheel: Path) -> None:
    """Item 10: with the start-up module the .pth imports truncated, `python -c pass` prints at most one line, once."""
    venv = tmp_path / "venv"
    env = clean_env(tmp_path)
    assert run([PY, "-m", "venv", venv], env, timeout=300).returncode == 0
    python = venv / "bin" / "python"
    p = run([python, "-m", "pip", "install", "-q", "--no-deps", built_wheel], env, timeout=300)
    assert p.returncode == 0, p.stderr
    purelib = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], env).stdout.strip())
    control = run([python, "-c", "pass"], env)
    assert control.returncode == 0 and control.stderr == "", control.stderr  # control: intact install
    names = re.findall(r"import\s+([A-Za-z_]\w*)", (purelib / "harmony_vocab.pth").read_text())
    startup = next(purelib / f"{n}.py" for n in names if (purelib / f"{n}.py").is_file())  # the one installed here
    text = startup.read_bytes()
    for damaged in (text[: len(text) // 2], b""):
        startup.write_bytes(damaged)
        p = run([python, "-c", "pass"], env)
        assert p.returncode == 0
        assert len(p.stderr.strip().splitlines()) <= 1, p.stderr


# ------------------------------------------------------------------------------- the weak ones

@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM], ids=["SIGHUP", "control-SIGTERM"])
def test_weak_hangup_during_fetch_leaves_no_part(tmp_path: Path, mirror: Mirror, sig: int) -> None:
    """Weak: SIGHUP (terminal closed) during fetch leaves no .part, like INT and TERM."""
    cache = tmp_path / "cache"
    mirror.slow.add("o200k_base.tiktoken")
    env = clean_env(tmp_path, HARMONY_VOCAB_CACHE_DIR=str(cache), HARMONY_VOCAB_BASE_URL=mirror.url)
    proc = subprocess.Popen([PY, "-m", "harmony_vocab", "fetch", "--name", "o200k_base"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_part(cache)
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert parts(cache) == [], f"left behind after {signal.Signals(sig).name}"


def bytes_to_unicode() -> Dict[int, str]:
    """GPT-2's byte-to-unicode table, as Hugging Face byte-level BPE uses it."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    others = [b for b in range(256) if b not in printable]
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + i) for i, b in enumerate(others)}}


@pytest.fixture(scope="module")
def tokenizer_json_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory holding only a byte-level BPE tokenizer.json of cl100k_base."""
    import base64

    table = bytes_to_unicode()
    vocab = {}
    for line in vocab_bytes("cl100k_base").splitlines():
        token, rank = line.split()
        vocab["".join(table[b] for b in base64.b64decode(token))] = int(rank)
    model = tmp_path_factory.mktemp("model")
    (model / "tokenizer.json").write_text(json.dumps({
        "version": "1.0", "model": {"type": "BPE", "vocab": vocab, "merges": []},
        "pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"}}))
    return model


def test_weak_rebuilt_copies_do_not_grow_without_bound(tmp_path: Path, tokenizer_json_dir: Path) -> None:
    """Weak: 8 jobs with fresh copies of one tokenizer.json-only model keep far fewer than 8 rebuilt copies."""
    cache = tmp_path / "cache"
    env = clean_env(tmp_path, HARMONY_VOCAB_CACHE_DIR=str(cache))
    for i in range(8):
        copy = shutil.copytree(tokenizer_json_dir, tmp_path / f"job{i}")
        p = cli("resolve", "cl100k_base", "--model-dir", copy, "--json", env=env)
        assert p.returncode == 0 and json.loads(p.stdout)["tier"] == "model", p.stdout + p.stderr
    kept = sum(f.stat().st_size for f in cache.rglob("*") if f.is_file())
    assert kept < 3 * len(vocab_bytes("cl100k_base")), f"{kept} bytes kept in {cache} after 8 jobs"


THREADS_RESOLVE = """
import sys, threading, harmony_vocab
start, tiers = threading.Barrier(16), []
def work():
    start.wait()
    tiers.append(harmony_vocab.resolve("cl100k_base", model_dir=sys.argv[1]).tier)
threads = [threading.Thread(target=work) for _ in range(16)]
for t in threads: t.start()
for t in threads: t.join()
print(sorted(set(tiers)))
"""


def test_weak_threads_rebuilding_one_tokenizer_json_get_no_false_warning(tmp_path: Path,
                                                                        tokenizer_json_dir: Path) -> None:
    """Weak: 16 threads resolving one tokenizer.json-only directory all get it, with no warning."""
    for i in range(8):  # a fresh process, model copy and cache per round: the race is not every time
        copy = shutil.copytree(tokenizer_json_dir, tmp_path / f"round{i}")
        env = clean_env(tmp_path, HARMONY_VOCAB_CACHE_DIR=str(tmp_path / f"cache{i}"))
        p = run([PY, "-c", THREADS_RESOLVE, copy], env)
        assert p.returncode == 0 and p.stdout.strip() == "['model']", p.stdout + p.stderr
        assert "arning" not in p.stderr, p.stderr


def test_weak_export_encodings_symlink_out_of_dest_writes_nothing_outside(tmp_path: Path) -> None:
    """Weak: export --layout encodings never writes through a DEST/encodings symlink out of DEST."""
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / "encodings").symlink_to(outside)
    p = cli("export", dest, "--layout", "encodings", env=clean_env(tmp_path))
    assert os.listdir(outside) == [], f"export wrote outside {dest}: {p.stdout}"
    if p.returncode != 0:
        one_line(p.stderr)


@ROOT_ONLY
@pytest.mark.parametrize("kind", ["devnull", "fifo", "dangling-symlink"])
def test_weak_special_cache_directory_is_not_called_a_file(tmp_path: Path, kind: str) -> None:
    """Weak: /dev/null, a FIFO or a dangling symlink given as a cache directory is named for what it is."""
    path = {"devnull": Path("/dev/null"), "fifo": tmp_path / "fifo", "dangling-symlink": tmp_path / "dangling"}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dangling-symlink":
        path.symlink_to(tmp_path / "nowhere")
    env = clean_env(tmp_path)
    for p in (cli("seed-cache", "--tiktoken", path, env=env),
              cli("fetch", "--name", "o200k_base", env=dict(env, HARMONY_VOCAB_CACHE_DIR=str(path)), net=False)):
        line = one_line(p.stderr)
        assert p.returncode == 1 and path.name in line, p.stderr
        assert not re.search(r"\bis a file\b", line), line


@pytest.mark.slow
@pytest.mark.integration
def test_weak_write_only_directory_is_written(shared_base: Path, other_user: pwd.struct_passwd) -> None:
    """Weak: a directory the user can write but not read (0300) is exported and seeded into."""
    home, dest, cache = shared_base / "home", shared_base / "dest", shared_base / "tk"
    for d in (home, home / "tmp", dest, cache):
        d.mkdir()
        os.chown(d, other_user.pw_uid, other_user.pw_gid)
        d.chmod(0o300 if d in (dest, cache) else 0o755)
    env = clean_env(shared_base, HOME=str(home), TMPDIR=str(home / "tmp"))
    for args, d in ((["export", dest], dest), (["seed-cache", "--tiktoken", cache], cache)):
        p = run(as_user(other_user, [PY, "-m", "harmony_vocab", *args]), env, cwd=home)
        assert p.returncode == 0, p.stderr
        assert os.listdir(d), f"nothing written in {d}"


def test_weak_env_json_on_a_bad_dir_prints_json(tmp_path: Path) -> None:
    """Weak: `env --json --dir MISSING` still prints JSON on stdout (and exits 1)."""
    p = cli("env", "--json", "--dir", tmp_path / "missing", env=clean_env(tmp_path))
    assert p.returncode == 1
    json.loads(p.stdout)


def test_weak_exit_code_matches_what_export_did_on_an_ascii_stdout(tmp_path: Path) -> None:
    """Weak: export to a stdout that cannot encode the path does not finish the export and then exit 1."""
    dest = tmp_path / "d\u00ebst"
    p = cli("export", dest, env=clean_env(tmp_path, PYTHONIOENCODING="ascii"))
    assert "Traceback" not in p.stderr
    written = dest.is_dir() and bool(os.listdir(dest))
    assert (p.returncode == 0) == written, f"exit {p.returncode}, export written: {written}; {p.stderr}"


def test_weak_doctor_on_a_broken_tiktoken_predicts_failure(tmp_path: Path) -> None:
    """Weak: doctor on a tiktoken that raises SyntaxError says it would fail, not download."""
    (tmp_path / "shadow" / "tiktoken").mkdir(parents=True)
    (tmp_path / "shadow" / "tiktoken" / "__init__.py").write_text("def broken(:\n")
    p = cli("doctor", "--json", env=clean_env(tmp_path, PYTHONPATH=str(tmp_path / "shadow")))
    vocabs = json.loads(p.stdout)["vocabs"]
    statuses = {name: v["tiktoken"]["status"] for name, v in vocabs.items() if v["tier"]}  # installed vocabs
    assert statuses and set(statuses.values()) == {"broken"}, statuses


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
def test_weak_sha256sum_tag_format_is_read_and_kept(tmp_path: Path, force: bool) -> None:
    """Weak: a `sha256sum --tag` SHA256SUMS is read, and other files' sums are kept (also with --force)."""
    dest = tmp_path / "model"
    dest.mkdir()
    (dest / "weights.bin").write_bytes(os.urandom(4096))
    tagged = subprocess.run(["sha256sum", "--tag", "weights.bin"], cwd=dest, capture_output=True, check=True)
    (dest / "SHA256SUMS").write_bytes(tagged.stdout)
    p = cli("export", dest, *(["--force"] if force else []), env=clean_env(tmp_path))
    assert p.returncode == 0, p.stderr
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=dest, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    for name in ("weights.bin", "o200k_base.tiktoken", "cl100k_base.tiktoken"):
        assert f"{name}: OK" in check.stdout, check.stdout


@ROOT_ONLY
def test_weak_mirror_host_label_too_long_is_one_error_not_a_traceback(tmp_path: Path) -> None:
    """Weak: a mirror host label over 63 characters makes fetch fail with its error, no urllib3 traceback."""
    env = clean_env(tmp_path, HARMONY_VOCAB_BASE_URL=f"http://{'a' * 64}.example/",
                    HARMONY_VOCAB_CACHE_DIR=str(tmp_path / "cache"))
    p = cli("fetch", "--name", "o200k_base", env=env, net=False)
    assert p.returncode == 1
    assert "Traceback" not in p.stderr, p.stderr[-1500:]
    assert p.stderr.startswith("harmony-vocab: error"), p.stderr[-1500:]


@pytest.mark.parametrize("scheme", ["HTTP", "http"], ids=["uppercase", "control-lowercase"])
def test_weak_uppercase_scheme_is_a_mirror(tmp_path: Path, mirror: Mirror, scheme: str) -> None:
    """Weak: HARMONY_VOCAB_BASE_URL=HTTP://... is an http mirror like http://..."""
    url = scheme + mirror.url[len("http"):]
    env = clean_env(tmp_path, HARMONY_VOCAB_BASE_URL=url, HARMONY_VOCAB_CACHE_DIR=str(tmp_path / "cache"))
    p = cli("fetch", "--name", "o200k_base", "--force", env=env)
    assert p.returncode == 0, p.stderr
    assert str(tmp_path / "cache") in p.stdout


def test_weak_verify_agrees_with_env_and_doctor_on_tiktoken_encodings_base(tmp_path: Path) -> None:
    """Weak: a TIKTOKEN_ENCODINGS_BASE holding only o200k_base gets one verdict from env, doctor and verify."""
    directory = tmp_path / "only-o200k"
    directory.mkdir()
    shutil.copyfile(harmony_vocab.bundled_path("o200k_base"), directory / "o200k_base.tiktoken")
    env = clean_env(tmp_path, TIKTOKEN_ENCODINGS_BASE=str(directory))
    verdicts = {"env": cli("env", "--dir", directory, env=env).returncode,
                "doctor": cli("doctor", env=env).returncode,
                "verify": cli("verify", env=env).returncode}
    assert len(set(verdicts.values())) == 1, verdicts
