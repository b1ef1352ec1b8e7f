"""Rebuild a ``.tiktoken`` vocab from a Hugging Face ``tokenizer.json`` (byte-level BPE)."""

from __future__ import annotations

import base64
import hashlib
import json
from itertools import islice
from pathlib import Path
from typing import Dict, Iterable, List, Optional

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


def rebuild(tokenizer_json: Path, pin: Pin, reference: Optional[Path] = None) -> bytes:
    """Return the ``.tiktoken`` bytes rebuilt from `tokenizer_json`, verified against `pin`.

    Ranks are the BPE vocabulary's ids below ``pin.ranks`` (ids above are special tokens). Raises
    `TokenizerJsonError` saying why when the file is not a byte-level BPE vocabulary or the result
    is not the pinned vocab; with a verified `reference` copy, the first differing rank is named.

    With a verified `reference`, a vocabulary whose ids come in rank order and whose texts match
    the pin's ``byte_level_sha256`` is known to rebuild to the pinned bytes: the reference's bytes
    are returned without rebuilding (about a third of the work).
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
    if reference is not None and _matches_fingerprint(model["vocab"], pin):
        return reference.read_bytes()
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


def byte_level_sha256(texts: Iterable[str]) -> str:
    """The pin's ``byte_level_sha256`` of a vocab given as its byte-level token texts in rank
    order: sha256 of the texts joined by newlines (which byte-level text never contains), UTF-8."""
    return hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()


def _matches_fingerprint(vocab: Dict[str, object], pin: Pin) -> bool:
    """True when the vocab's first ``pin.ranks`` entries are ids 0, 1, ... in order, no later
    entry reuses one of those ids, and their texts hash to the pin's ``byte_level_sha256``: then
    the rebuilt file would be the pinned one byte for byte, and rebuilding can be skipped."""
    if pin.byte_level_sha256 is None or len(vocab) < pin.ranks:
        return False
    ids = iter(vocab.values())
    if list(islice(ids, pin.ranks)) != list(range(pin.ranks)):
        return False
    if any(isinstance(i, int) and 0 <= i < pin.ranks for i in ids):
        return False
    return byte_level_sha256(islice(vocab, pin.ranks)) == pin.byte_level_sha256


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

