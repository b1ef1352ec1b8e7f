"""Rebuild a ``.tiktoken`` vocab from a Hugging Face ``tokenizer.json`` (byte-level BPE)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Dict, List, Optional

from .errors import VocabError
from .pins import Pin


class TokenizerJsonError(VocabError, ValueError):
    """A tokenizer.json that cannot be rebuilt into the pinned vocab; the message says why."""


def _byte_decoder() -> Dict[int, str]:
    """GPT-2's byte-to-unicode mapping, reversed, as a ``str.translate`` table to latin-1."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    table: Dict[int, str] = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in printable:
            table[256 + extra] = chr(b)
            extra += 1
    return table


BYTE_DECODER = _byte_decoder()
BYTE_ENCODER = {ord(v): chr(k) for k, v in BYTE_DECODER.items()}


def rebuild(tokenizer_json: Path, pin: Pin, reference: Optional[Path] = None) -> bytes:
    """Return the ``.tiktoken`` bytes rebuilt from `tokenizer_json`, verified against `pin`.

    Ranks are the BPE vocabulary's ids below ``pin.ranks`` (ids above are special tokens). Raises
    `TokenizerJsonError` saying why when the file is not a byte-level BPE vocabulary or the result
    is not the pinned vocab; with a verified `reference` copy, the first differing rank is named.
    """
    try:
        with open(tokenizer_json, "rb") as f:
            data = json.load(f)
    except ValueError as exc:
        raise TokenizerJsonError(f"{tokenizer_json} is not valid JSON: {exc}") from None
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict) or model.get("type", "BPE") != "BPE" or not isinstance(
        model.get("vocab"), dict
    ):
        raise TokenizerJsonError(f"{tokenizer_json}: expected a BPE model with a 'vocab' object")
    tokens: List[Optional[bytes]] = [None] * pin.ranks
    for text, rank in model["vocab"].items():
        if isinstance(rank, int) and 0 <= rank < pin.ranks:
            try:
                tokens[rank] = text.translate(BYTE_DECODER).encode("latin-1")
            except UnicodeEncodeError:
                raise TokenizerJsonError(
                    f"{tokenizer_json}: token {text!r} (id {rank}) is not byte-level BPE "
                    "(a character outside GPT-2's byte-to-unicode mapping)"
                ) from None
    missing = [rank for rank, token in enumerate(tokens) if token is None]
    if missing:
        raise TokenizerJsonError(
            f"{tokenizer_json}: {len(missing)} of the {pin.ranks} ranks of {pin.name} are missing "
            f"(first: {missing[0]}); this tokenizer.json is not {pin.name}"
        )
    b64 = base64.b64encode
    out = b"".join(b64(token) + b" %d\n" % rank for rank, token in enumerate(tokens))  # type: ignore[arg-type]
    actual = hashlib.sha256(out).hexdigest()
    if len(out) != pin.size or actual != pin.sha256:
        detail = f"sha256 {actual}, {len(out)} bytes; expected {pin.sha256}, {pin.size} bytes"
        diff = _first_difference(out, reference) if reference else None
        raise TokenizerJsonError(
            f"{tokenizer_json}: the rebuilt vocab is not the pinned {pin.name} ({detail})"
            + (f"; {diff}" if diff else "")
        )
    return out


def _first_difference(rebuilt: bytes, reference: Path) -> Optional[str]:
    try:
        expected = reference.read_bytes().splitlines()
    except OSError:
        return None
    for rank, (got, want) in enumerate(zip(rebuilt.splitlines(), expected)):
        if got != want:
            have = base64.b64decode(got.split()[0])
            should = base64.b64decode(want.split()[0])
            return f"rank {rank} is {have!r} in tokenizer.json, {should!r} in the pinned vocab"
    return None


def to_tokenizer_json(tiktoken_bytes: bytes) -> Dict[str, object]:
    """A minimal Hugging Face byte-level BPE tokenizer.json structure for a ``.tiktoken`` vocab
    (ranks as ids, GPT-2 byte-to-unicode mapping, no merges): the inverse of `rebuild`."""
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
