"""Rebuild a ``.tiktoken`` vocab from a Hugging Face ``tokenizer.json`` (byte-level BPE)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from . import locations as loc
from .bundled import bundled_dir
from .errors import FileTooLargeError, VocabError
from .integrity import check_file, describe_failure, read_regular, require_regular
from .pins import Pin
from .storage import process_temp_dir, write_atomic

MAX_BYTES = 64 << 20
"""The largest tokenizer.json read: 64 MiB, 2.4 times the largest real one for a pinned vocab
(o200k_base's as the Hugging Face converter writes it, 446,189 merges, indented: 27.9 MB, which
parses in about 235 MB). With `MAX_ITEMS` it bounds what a hostile file costs: measured, at most
about 600 MB (a 64 MiB string holding one character outside UCS-2, which makes the decoded text
4 bytes a character); a 100 MB file is refused before it is read."""

MAX_ITEMS = 4_000_000
"""The most JSON values a tokenizer.json may hold, counted before parsing as its commas, colons
and opening brackets (an upper bound): o200k_base's has 1.76 million. Each value costs up to
~70 bytes once parsed, so a file of tiny values (``[{},{},...]``, ``{"a":0,...}``) stays under
about 400 MB."""

_REJECTION_BYTES = 1 << 16
KEPT_DIR = "from-tokenizer-json"
"""Where in our cache the rebuilt copies, and the rejections, are kept."""

# (key of a tokenizer.json, pin sha256) -> why it was rejected: each file is parsed once a process.
# (key of a tokenizer.json, pin sha256 or "any") -> why it was rejected: each file is parsed once
# a process ("any": the file is no tokenizer.json at all, whatever the vocab).
_rejected: Dict[Tuple[str, str], str] = {}
_rejected_lock = threading.Lock()


class TokenizerJsonError(VocabError, ValueError):
    """A tokenizer.json that cannot be rebuilt into the pinned vocab; the message says why.
    `any_vocab`: the file is not a usable tokenizer.json at all (not just not this vocab)."""

    def __init__(self, message: str, any_vocab: bool = False) -> None:
        super().__init__(message)
        self.any_vocab = any_vocab


def load(tokenizer_json: Path) -> Any:
    """The parsed JSON of `tokenizer_json`, read only if it is a regular file of at most
    `MAX_BYTES` holding at most `MAX_ITEMS` values; nesting is bounded by the interpreter's
    recursion limit. Raises `TokenizerJsonError` (too large, too many values, too deep, not
    JSON) or `OSError` (unreadable, not a regular file)."""
    try:
        data = read_regular(tokenizer_json, MAX_BYTES, "a tokenizer.json")
    except FileTooLargeError as exc:
        raise TokenizerJsonError(
            f"{tokenizer_json} is {exc.size} bytes, more than the {MAX_BYTES} a tokenizer.json may "
            f"be (o200k_base's is about 28 MB): not a tokenizer.json of a pinned vocab",
            any_vocab=True,
        ) from None
    items = sum(map(data.count, b",:[{"))  # an upper bound: such bytes in strings count too
    if items > MAX_ITEMS:
        raise TokenizerJsonError(
            f"{tokenizer_json} holds up to {items} JSON values, more than the {MAX_ITEMS} a "
            f"tokenizer.json may (o200k_base's holds about 1.8 million): not a tokenizer.json of "
            f"a pinned vocab",
            any_vocab=True,
        )
    try:
        return json.loads(data)
    except RecursionError:
        raise TokenizerJsonError(f"{tokenizer_json} is nested too deeply to be a tokenizer.json "
                                 f"(a real one is nested 4 levels deep)", any_vocab=True) from None
    except ValueError as exc:
        raise TokenizerJsonError(f"{tokenizer_json} is not valid JSON: {exc}", any_vocab=True) from None


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
    data = load(tokenizer_json)
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict) or model.get("type", "BPE") != "BPE" or not isinstance(
        model.get("vocab"), dict
    ):
        raise TokenizerJsonError(f"{tokenizer_json}: expected a BPE model with a 'vocab' object", any_vocab=True)
    if reference is not None and _matches_fingerprint(model["vocab"], pin):
        return read_regular(reference, pin.size, f"the pinned {pin.name}")
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
        diff = _first_difference(out, reference, pin) if reference else None
        raise TokenizerJsonError(
            f"{tokenizer_json}: the rebuilt vocab is not the pinned {pin.name} ({detail})"
            + (f"; {diff}" if diff else "")
        )
    return out


@dataclass(frozen=True)
class Rebuilt:
    """What `rebuilt_copy` found for one tokenizer.json and one pin: the verified rebuilt copy
    (`path`), or why there is none (`rejection`, naming the tokenizer.json)."""

    path: Optional[Path]
    place: str
    """How a trace names what was looked at."""
    rejection: Optional[str] = None
    notes: Tuple[Tuple[str, str], ...] = ()
    """``(place, outcome)`` of the other places looked at on the way, for a trace."""
    new: bool = False
    """A rejection not yet reported in this process: warn about it."""


def rebuilt_copy(tokenizer: Path, pin: Pin) -> Rebuilt:
    """The vocab `pin` rebuilt from `tokenizer` (a tokenizer.json), verified, or why not.

    The rebuild runs once: its verified result is kept in our cache
    (``<cache>/from-tokenizer-json/<key>/<name>.tiktoken``, the key naming the tokenizer.json's
    real path, size, mtime, ctime and inode), so later lookups and processes only re-verify it; a
    cache that cannot be written keeps it in a directory for this process only. A rejection is
    remembered alike, in this process and beside the kept copy (``<name>.rejected``, or
    ``any.rejected`` for a file that is no tokenizer.json at all, whatever the vocab), so a
    rejected file is parsed once, and a file that is no tokenizer.json once for every vocab. A
    file that cannot be read (missing, a FIFO, a device, permission denied) is rejected and not
    remembered. Never raises on a bad tokenizer.json.
    """
    try:
        st = os.stat(tokenizer)
        require_regular(os.fspath(tokenizer), st)
    except OSError as exc:
        return Rebuilt(None, str(tokenizer), f"{tokenizer}: {describe_failure(exc)}", new=True)
    identity = f"{os.path.realpath(tokenizer)}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}"
    rules = f"{MAX_BYTES}\0{MAX_ITEMS}"  # a rejection under other limits is not this one
    key = hashlib.sha256(f"{identity}\0{rules}".encode()).hexdigest()[:24]
    try:
        folder = loc.cache_dir() / KEPT_DIR / key
    except VocabError:  # no home directory: keep it for this process only
        folder = process_temp_dir() / key
    kept = folder / pin.file
    scopes = (("any", folder / "any.rejected"), (pin.sha256, folder / f"{pin.name}.rejected"))
    with _rejected_lock:
        reason = next((_rejected[(key, scope)] for scope, _ in scopes if (key, scope) in _rejected), None)
    if reason is not None:
        return Rebuilt(None, str(tokenizer), reason)
    notes: List[Tuple[str, str]] = []
    place = f"{tokenizer} (rebuilt copy {kept})"
    if os.path.lexists(kept):
        try:
            check_file(kept, pin)
        except (VocabError, OSError) as exc:
            notes.append((place, describe_failure(exc)))
        else:
            return Rebuilt(kept, place)
    for scope, remembered in scopes:
        try:
            reason = read_regular(remembered, _REJECTION_BYTES, "a remembered rejection").decode("utf-8", "replace")
        except OSError:
            continue
        if reason:
            place = f"{tokenizer} (rejected before, remembered in {remembered})"
            return _remember(key, scope, reason, place, notes)
    try:
        data = rebuild(tokenizer, pin, reference=_verified_reference(pin))
    except TokenizerJsonError as exc:
        scope, remembered = scopes[0] if exc.any_vocab else scopes[1]
        try:
            write_atomic(remembered, str(exc).encode("utf-8"))
        except OSError:
            pass  # remembered for this process only
        return _remember(key, scope, str(exc), str(tokenizer), notes)
    except OSError as exc:  # may pass: not remembered
        return Rebuilt(None, str(tokenizer), f"{tokenizer}: {describe_failure(exc)}", tuple(notes), new=True)
    try:
        write_atomic(kept, data)
    except OSError as exc:  # a read-only cache: keep it for this process only
        notes.append((str(kept), f"cannot keep the rebuilt copy here: {describe_failure(exc)}"))
        try:
            kept = process_temp_dir() / pin.file
            write_atomic(kept, data)
        except OSError as exc:
            return Rebuilt(None, str(tokenizer), f"{tokenizer}: rebuilt, but nowhere to keep the copy: "
                                                 f"{describe_failure(exc)}", tuple(notes), new=True)
        place = f"{tokenizer} (rebuilt copy {kept}, for this process only)"
    try:
        check_file(kept, pin)
    except (VocabError, OSError) as exc:
        return Rebuilt(None, place, f"{kept}: {describe_failure(exc)}", tuple(notes), new=True)
    return Rebuilt(kept, place, None, tuple(notes))


def _remember(key: str, scope: str, reason: str, place: str, notes: List[Tuple[str, str]]) -> Rebuilt:
    with _rejected_lock:
        _rejected[(key, scope)] = reason
    return Rebuilt(None, place, reason, tuple(notes), new=True)


def _verified_reference(pin: Pin) -> Optional[Path]:
    """The bundled copy, if it verifies: only then may a mismatch be quoted against it."""
    path = bundled_dir() / pin.file
    try:
        check_file(path, pin)
    except (VocabError, OSError):
        return None
    return path


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


def _first_difference(rebuilt: bytes, reference: Path, pin: Pin) -> Optional[str]:
    try:
        expected = read_regular(reference, pin.size, f"the pinned {pin.name}").splitlines()
    except OSError:
        return None
    for rank, (got, want) in enumerate(zip(rebuilt.splitlines(), expected)):
        if got != want:
            have = base64.b64decode(got.split()[0])
            should = base64.b64decode(want.split()[0])
            return f"rank {rank} is {have!r} in tokenizer.json, {should!r} in the pinned vocab"
    return None

