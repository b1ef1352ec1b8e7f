"""Helpers shared by the tests: synthetic vocabs, clean environments, offline subprocesses."""

from __future__ import annotations

import base64
import hashlib
import os
import random
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from harmony_vocab.pins import File, Pin
from harmony_vocab.tokenizer_json import BYTE_DECODER, byte_level_sha256

ROOT = Path(__file__).resolve().parents[1]
SHARED_VOCAB = Path(os.environ.get("HARMONY_VOCAB_TEST_MIRROR") or ROOT.parent / "shared" / "vocab")

# Variables that steer harmony-vocab, openai-harmony or tiktoken: never inherited by a test.
STEERING_PREFIXES = ("HARMONY_VOCAB_", "TIKTOKEN_", "DATA_GYM_", "HF_", "XDG_CACHE_HOME")


# The Hugging Face hub cache the hf_hub fixture has huggingface_hub write (tests/hf_producer.py).
HF_PRODUCER = ROOT / "tests" / "hf_producer.py"
HUB_COMMIT = "3a8e4b2c5d6f708192a3b4c5d6e7f8091a2b3c4d"
# A repo per vocab holding only transformers' tokenizer.json of it.
HUB_REPOS = {"o200k_base": "openai/gpt-oss-20b", "cl100k_base": "test-org/cl100k-tiktoken-model"}
# (repo, older commit, the commit refs/main names): the older one's name sorts first.
HUB_TWO_REVISIONS = ("test-org/two-revisions", "0" * 40, "f" * 40)


@dataclass
class HubCache:
    """A hub cache laid out by huggingface_hub: ``models--org--name/{blobs,refs,snapshots}``."""

    cache: Path

    def repo(self, repo_id: str) -> Path:
        return self.cache / ("models--" + repo_id.replace("/", "--"))

    def snapshot(self, repo_id: str, commit: str) -> Path:
        return self.repo(repo_id) / "snapshots" / commit


def make_vocab(ranks: int = 300, seed: int = 0) -> bytes:
    """A small synthetic .tiktoken vocab: every single byte, then random multi-byte tokens."""
    rng = random.Random(seed)
    tokens: List[bytes] = [bytes([b]) for b in range(256)]
    seen = set(tokens)
    while len(tokens) < ranks:
        token = bytes(rng.randrange(256) for _ in range(rng.randrange(2, 6)))
        if token not in seen:
            seen.add(token)
            tokens.append(token)
    return b"".join(base64.b64encode(t) + b" %d\n" % i for i, t in enumerate(tokens[:ranks]))


# GPT-2's byte-to-unicode mapping (the package's BYTE_DECODER, reversed): bytes to byte-level text.
BYTE_ENCODER = {ord(latin1): chr(text) for text, latin1 in BYTE_DECODER.items()}


def to_tokenizer_json(tiktoken_bytes: bytes) -> Dict[str, Any]:
    """A minimal Hugging Face byte-level BPE tokenizer.json structure for a ``.tiktoken`` vocab
    (ranks as ids, GPT-2 byte-to-unicode mapping, no merges): the inverse of the package's
    `rebuild`, for small synthetic cases (the real-world producer is transformers' converter, in
    hub_fixtures.py) and the benchmark's model directory."""
    vocab = {}
    for line in tiktoken_bytes.splitlines():
        token, rank = line.split()
        vocab[base64.b64decode(token).decode("latin-1").translate(BYTE_ENCODER)] = int(rank)
    return {
        "version": "1.0",
        "model": {"type": "BPE", "vocab": vocab, "merges": []},
        "pre_tokenizer": {"type": "ByteLevel"},
        "decoder": {"type": "ByteLevel"},
    }


def make_pin(name: str, data: bytes, urls: Sequence[str] = ()) -> Pin:
    """A pin for synthetic `data`, with its byte-level fingerprint."""
    vocab = to_tokenizer_json(data)["model"]["vocab"]
    urls = tuple(urls) or (f"https://vocab.invalid/encodings/{name}.tiktoken",)
    f = File(name, f"{name}.tiktoken", hashlib.sha256(data).hexdigest(), len(data), urls)
    return Pin(name, (f,), wheel="core", harmony=name == "o200k_base", ranks=data.count(b"\n"),
               byte_level_sha256=byte_level_sha256(vocab))


def clean_env(home: Path, **extra: str) -> Dict[str, str]:
    """os.environ without any steering variable, with HOME and TMPDIR inside `home`, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(STEERING_PREFIXES)}
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), TMPDIR=str(home / "tmp"), PYTHONDONTWRITEBYTECODE="1")
    env.update(extra)
    return env


def offline(cmd: Sequence[str]) -> List[str]:
    """`cmd` wrapped to run in a new network namespace with only loopback up (needs root)."""
    return ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *map(str, cmd)]


def run(cmd: Sequence[str], env: Optional[Mapping[str, str]] = None, check: bool = True,
        cwd: Optional[Path] = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a command, capture text output; on an unexpected exit code, fail with its output."""
    proc = subprocess.run(list(map(str, cmd)), env=dict(env) if env is not None else None,
                          cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return proc


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


PYTHON = sys.executable



# ---------------------------------------------------------------- a raw HTTP server on 127.0.0.1

Handler = Callable[[socket.socket, "RawServer"], None]


class RawServer:
    """A one-handler TCP server on 127.0.0.1 running in a thread; each connection gets `handler`
    once its request has been read. For what werkzeug cannot produce: connections dropped
    mid-body, bodies shorter than their Content-Length, stalls, endless or trickling bodies.

    `stop` is an event set at `close` so that stalling handlers return promptly. `sent` counts
    body bytes the handlers managed to hand to the kernel; `finished` is set when a handler returns.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.finished = threading.Event()
        self.connections = 0
        self.sent = 0
        self.errors: List[BaseException] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            _read_request(conn)
            self.handler(conn, self)
        except OSError as exc:  # the client went away: expected in several scenarios
            self.errors.append(exc)
        finally:
            conn.close()
            self.finished.set()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(5)


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def response_head(length: Optional[int], extra: str = "") -> bytes:
    """The status line and headers of a 200 response, with a Content-Length when given."""
    head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n"
    if length is not None:
        head += f"Content-Length: {length}\r\n"
    return (head + extra + "\r\n").encode()


def trickle(data: bytes, head: int = 0, step: int = 16, pause: float = 0.05) -> Handler:
    """A handler that sends `data` with its Content-Length: the first `head` bytes at once, then
    `step` bytes every `pause` seconds. The right bytes, slowly."""

    def handler(conn: socket.socket, server: RawServer) -> None:
        conn.sendall(response_head(len(data)) + data[:head])
        server.sent += len(data[:head])
        for start in range(head, len(data), step):
            if server.stop.wait(pause):
                return
            conn.sendall(data[start:start + step])
            server.sent += len(data[start:start + step])

    return handler


def run_python(venv: Path, home: Path, code: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    """Run `code` with the venv's interpreter, offline (loopback only), in a clean environment
    whose HOME and TMPDIR are inside `home`, plus `env`."""
    return run(offline([venv_python(venv), "-c", code]), env=clean_env(home, **env), check=check)


# A program that uses only unmodified openai-harmony, for the frozen app and the no-.pth tests.
HARMONY_APP = """\
from openai_harmony import HarmonyEncodingName, load_harmony_encoding

enc = load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)
print("openai-harmony:", enc.name, enc.encode("Frozen, offline: ça marche."))
"""
# What openai-harmony says when it has to download the vocab and cannot.
HARMONY_DOWNLOAD_FAILED = "failed to download or load vocab file"
