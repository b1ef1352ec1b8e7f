"""Rebuild a ``.tiktoken`` vocab from a Hugging Face ``tokenizer.json`` (byte-level BPE).

A rebuilt copy is kept in our cache, keyed by the tokenizer.json's content, so later lookups and
processes only re-verify it; a rejection is remembered alike. Reads are bounded (`MAX_BYTES`,
`MAX_ITEMS`, nesting), so a hostile file costs at most about 600 MB to parse, once.
"""

import base64
import hashlib
import os
import threading
from contextlib import suppress
from itertools import islice

from .errors import PathError, VocabError
from .files import check_file, describe_failure, process_temp_dir, read_regular, write_file
from .pins import Pin

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Dict, Iterable, List, Optional, Tuple

MAX_BYTES = 64 << 20
"""The largest tokenizer.json read: 64 MiB, 2.4 times o200k_base's as the Hugging Face converter
writes it (27.9 MB, parsed in about 235 MB). With `MAX_ITEMS` it bounds what a hostile file costs:
measured, at most about 600 MB."""

MAX_ITEMS = 4_000_000
"""The most JSON values a tokenizer.json may hold, counted before parsing as its commas, colons
and opening brackets (an upper bound): o200k_base's has 1.76 million."""

_memo: "Dict[Tuple[str, str], Tuple[Optional[str], Optional[str]]]" = {}
_lock = threading.Lock()  # one rebuild at a time: threads asking for the same file wait for it


def forget_rejected() -> None:
    """Forget what this process learnt about tokenizer.json files (kept copies and rejections)."""
    with _lock:
        _memo.clear()


class TokenizerJsonError(VocabError, ValueError):
    """A tokenizer.json that cannot be rebuilt into the pinned vocab; the message says why."""


def load(tokenizer_json: str) -> "Any":
    """The parsed JSON of `tokenizer_json`, within the bounds above; `TokenizerJsonError` (too
    large, too many values, too deep, not JSON) or `OSError` (unreadable, not a regular file)."""
    try:
        data = read_regular(tokenizer_json, MAX_BYTES, "a tokenizer.json")
    except PathError as exc:
        if "bytes" not in str(exc.strerror):
            raise
        raise TokenizerJsonError(f"{tokenizer_json} is more than the {MAX_BYTES} bytes a tokenizer.json may be "
                                 f"(o200k_base's is about 28 MB): not a tokenizer.json of a pinned vocab") from None
    items = sum(map(data.count, b",:[{"))  # an upper bound: such bytes in strings count too
    if items > MAX_ITEMS:
        raise TokenizerJsonError(f"{tokenizer_json} holds up to {items} JSON values, more than the {MAX_ITEMS} a "
                                 f"tokenizer.json may (o200k_base's holds about 1.8 million): not a tokenizer.json "
                                 f"of a pinned vocab")
    import json  # here: the gpt2 ranks import this module for BYTE_DECODER alone

    try:
        return json.loads(data)
    except RecursionError:
        raise TokenizerJsonError(f"{tokenizer_json} is nested too deeply to be a tokenizer.json "
                                 f"(a real one is nested 4 levels deep)") from None
    except ValueError as exc:
        raise TokenizerJsonError(f"{tokenizer_json} is not valid JSON: {exc}") from None


BYTE_DECODER: "Dict[int, str]" = {b: chr(b) for b in range(256) if chr(b).isprintable() and chr(b) != " "}
BYTE_DECODER.update({256 + i: chr(b) for i, b in enumerate(b for b in range(256) if b not in BYTE_DECODER)})
"""GPT-2's byte-to-unicode mapping, reversed, as a ``str.translate`` table to latin-1: a
printable byte stands for itself, the others, in order, for the characters from U+0100."""


def rebuild(tokenizer_json: str, pin: Pin, reference: "Optional[str]" = None) -> bytes:
    """Return the ``.tiktoken`` bytes rebuilt from `tokenizer_json`, verified against `pin`.

    Ranks are the BPE vocabulary's ids below ``pin.ranks`` (ids above are special tokens). Raises
    `TokenizerJsonError` saying why when the file is not a byte-level BPE vocabulary or the result
    is not the pinned vocab; with a verified `reference` copy, the first differing rank is named.

    With a verified `reference`, a vocabulary whose ids come in rank order and whose texts match
    the pin's ``byte_level_sha256`` is known to rebuild to the pinned bytes: the reference's bytes
    are returned without rebuilding (about a third of the work).
    """
    data = load(tokenizer_json)
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict) or model.get("type", "BPE") != "BPE" or not isinstance(model.get("vocab"), dict):
        raise TokenizerJsonError(f"{tokenizer_json}: expected a BPE model with a 'vocab' object")
    if reference is not None and _matches_fingerprint(model["vocab"], pin):
        return read_regular(reference, pin.size, f"the pinned {pin.name}")
    tokens: "List[Optional[bytes]]" = [None] * pin.ranks
    for text, rank in model["vocab"].items():
        if isinstance(rank, int) and 0 <= rank < pin.ranks:
            try:
                tokens[rank] = text.translate(BYTE_DECODER).encode("latin-1")
            except UnicodeEncodeError:
                raise TokenizerJsonError(f"{tokenizer_json}: token {text!r} (id {rank}) is not byte-level BPE "
                                         "(a character outside GPT-2's byte-to-unicode mapping)") from None
    missing = [rank for rank, token in enumerate(tokens) if token is None]
    if missing:
        raise TokenizerJsonError(f"{tokenizer_json}: {len(missing)} of the {pin.ranks} ranks of {pin.name} are "
                                 f"missing (first: {missing[0]}); this tokenizer.json is not {pin.name}")
    out = b"".join(base64.b64encode(token) + b" %d\n" % rank  # type: ignore[arg-type]
                   for rank, token in enumerate(tokens))
    actual = hashlib.sha256(out).hexdigest()
    if len(out) != pin.size or actual != pin.sha256:
        detail = f"sha256 {actual}, {len(out)} bytes; expected {pin.sha256}, {pin.size} bytes"
        diff = _first_difference(tokens, reference, pin) if reference else ""
        raise TokenizerJsonError(f"{tokenizer_json}: the rebuilt vocab is not the pinned {pin.name} ({detail}){diff}")
    return out


def rebuilt_copy(tokenizer: str, pin: Pin, cache: "Optional[str]") -> "Tuple[Optional[str], str]":
    """``(path, outcome)``: the verified copy of `pin` rebuilt from `tokenizer` and kept in
    `cache` (our cache; None: a directory for this process only), or None and why not. The key is
    the file's sha256: copies of one model directory share one rebuilt copy. Never raises."""
    try:
        key = hashlib.sha256(read_regular(tokenizer, MAX_BYTES, "a tokenizer.json")).hexdigest()[:24]
    except (OSError, VocabError) as exc:
        return None, f"{tokenizer}: {describe_failure(exc)}"
    with _lock:
        path, reason = _memo.get((key, pin.name), (None, None))
        if path is not None:
            try:
                check_file(path, pin.files[0])  # hashed again only if it changed
            except (OSError, VocabError):
                path = None  # the kept copy was damaged or removed: rebuilt below
        if path is None and reason is None:
            folder = os.path.join(cache or str(process_temp_dir()), "from-tokenizer-json", key)
            kept, rejected = os.path.join(folder, pin.file), os.path.join(folder, pin.name + ".rejected")
            try:
                check_file(kept, pin.files[0])
                path = kept
            except (OSError, VocabError):
                try:
                    reason = read_regular(rejected, 1 << 16, "a rejection").decode("utf-8", "replace")
                except (OSError, VocabError):
                    path, reason = _rebuild_and_keep(tokenizer, pin, kept, rejected)
            _memo[(key, pin.name)] = (path, reason)
    return path, reason or "rebuilt copy " + str(path)


def _rebuild_and_keep(tokenizer: str, pin: Pin, kept: str, rejected: str) -> "Tuple[Optional[str], Optional[str]]":
    from .tiers import data_dir

    packaged, reference = os.path.join(data_dir(pin.wheel) or "", pin.file), None
    with suppress(OSError, VocabError):
        check_file(packaged, pin.files[0])
        reference = packaged
    try:
        data = rebuild(tokenizer, pin, reference)
    except TokenizerJsonError as exc:
        with suppress(OSError, VocabError):  # else remembered for this process only
            write_file(rejected, str(exc).encode("utf-8"))
        return None, str(exc)
    except (OSError, VocabError) as exc:
        return None, f"{tokenizer}: {describe_failure(exc)}"
    try:
        write_file(kept, data)
    except (OSError, VocabError):
        kept = str(process_temp_dir() / pin.file)
        write_file(kept, data)
    return kept, None


def byte_level_sha256(texts: "Iterable[str]") -> str:
    """The pin's ``byte_level_sha256`` of a vocab given as its byte-level token texts in rank
    order: sha256 of the texts joined by newlines (which byte-level text never contains), UTF-8."""
    return hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()


def _matches_fingerprint(vocab: "Dict[str, object]", pin: Pin) -> bool:
    """True when the vocab's first ``pin.ranks`` entries are ids 0, 1, ... in order, no later
    entry reuses one of those ids, and their texts hash to the pin's ``byte_level_sha256``: then
    the rebuilt file would be the pinned one byte for byte, and rebuilding can be skipped."""
    ids = iter(vocab.values())
    return (pin.byte_level_sha256 is not None and len(vocab) >= pin.ranks
            and list(islice(ids, pin.ranks)) == list(range(pin.ranks))
            and not any(isinstance(i, int) and 0 <= i < pin.ranks for i in ids)
            and byte_level_sha256(islice(vocab, pin.ranks)) == pin.byte_level_sha256)


def _first_difference(tokens: "List[Optional[bytes]]", reference: str, pin: Pin) -> str:
    try:
        expected = read_regular(reference, pin.size, f"the pinned {pin.name}").split()[::2]  # its tokens, base64
    except OSError:
        return ""
    for rank, (got, want) in enumerate(zip(tokens, map(base64.b64decode, expected))):
        if got != want:
            return f"; rank {rank} is {got!r} in tokenizer.json, {want!r} in the pinned vocab"
    return ""

