"""Helpers shared by the tests: synthetic vocabs, clean environments, offline subprocesses."""

from __future__ import annotations

import base64
import hashlib
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from harmony_vocab.pins import Pin
from harmony_vocab.tokenizer_json import BYTE_DECODER, byte_level_sha256

ROOT = Path(__file__).resolve().parents[1]
SHARED_VOCAB = Path(os.environ.get("HARMONY_VOCAB_TEST_MIRROR") or ROOT.parent / "shared" / "vocab")

# Variables that steer harmony-vocab, openai-harmony or tiktoken: never inherited by a test.
STEERING_PREFIXES = ("HARMONY_VOCAB_", "TIKTOKEN_", "DATA_GYM_", "HF_", "XDG_CACHE_HOME")


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
    return Pin(
        name=name,
        file=f"{name}.tiktoken",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        ranks=data.count(b"\n"),
        urls=tuple(urls) or (f"https://vocab.invalid/encodings/{name}.tiktoken",),
        byte_level_sha256=byte_level_sha256(vocab),
    )


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
