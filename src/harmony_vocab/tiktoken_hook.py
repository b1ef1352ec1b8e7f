"""Unmodified tiktoken, offline: serve its pinned vocab downloads from the lookup order.

Installed by the start-up finder (``_harmony_vocab_startup.TiktokenFinder``) when ``tiktoken.load``
is imported. tiktoken reads every vocab through ``read_file_cached(url, expected_hash)`` and
``load_tiktoken_bpe(url, expected_hash)``; both are wrapped so that a pinned URL, asked for with
the pin's sha256 (or no hash), is answered with the bytes of ``resolve(name)``, verified. Every
other URL, another hash, a tiktoken whose functions do not look as expected, and any failure of
ours: tiktoken's own code runs, exactly as if harmony-vocab were not installed.
"""

from __future__ import annotations

import binascii
import functools
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Sequence

from _harmony_vocab_lookup import PINS

if TYPE_CHECKING:  # pragma: no cover
    from importlib.machinery import ModuleSpec

# Only _harmony_vocab_lookup (already imported) until a pinned URL is asked for: importing
# tiktoken.load stays as cheap as without us.
BY_URL: Dict[str, str] = {url: name for name, pin in PINS.items() for url in pin["urls"]}
"""The pinned URLs tiktoken may ask for, and their vocab names."""


def ours(url: str, expected_hash: Optional[str]) -> Optional[str]:
    """The vocab name when `url` is pinned and `expected_hash` is its pin's sha256 (or None)."""
    name = BY_URL.get(url)
    if name is None or expected_hash not in (None, PINS[name]["sha256"]):
        return None
    return name


def find_spec(finder: Any, fullname: str, path: Optional[Sequence[str]],
              target: Optional[ModuleType]) -> "Optional[ModuleSpec]":
    """The spec the other finders give for `fullname`, its loader wrapped so that the module is
    patched (`patch`) once it has run. The finder's job is then done: it leaves sys.meta_path,
    so later imports no longer pass through it."""
    if finder in sys.meta_path:
        sys.meta_path.remove(finder)
    spec: "Optional[ModuleSpec]" = None
    for other in sys.meta_path:
        find = getattr(other, "find_spec", None)
        if type(other) is type(finder) or find is None:
            continue
        spec = find(fullname, path, target)
        if spec is not None:
            break
    if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
        spec.loader = _PatchingLoader(spec.loader)  # type: ignore[assignment]
    return spec


class _PatchingLoader:
    """The real loader, plus `patch` after the module has run; the module keeps the real one."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)

    def create_module(self, spec: "ModuleSpec") -> Optional[ModuleType]:
        return self.loader.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        try:
            patch(module)
        except Exception:  # tiktoken as it is
            pass


def _takes(function: object, first: str) -> bool:
    """True for a plain function ``(first, expected_hash=None)``, as tiktoken 0.6 to 0.14 have."""
    code = getattr(function, "__code__", None)
    return code is not None and code.co_argcount == 2 and code.co_varnames[:2] == (first, "expected_hash")


def patch(module: ModuleType) -> bool:
    """Wrap ``read_file_cached`` and ``load_tiktoken_bpe`` of a ``tiktoken.load`` module; False
    (and nothing changed) when they do not look as expected."""
    read_original: Any = getattr(module, "read_file_cached", None)
    load_original: Any = getattr(module, "load_tiktoken_bpe", None)
    if getattr(load_original, "__harmony_vocab__", False):
        return True
    if not (_takes(read_original, "blobpath") and _takes(load_original, "tiktoken_bpe_file")):
        return False
    @functools.wraps(read_original)
    def read_file_cached(blobpath: str, expected_hash: Optional[str] = None) -> bytes:
        data = serve(blobpath, expected_hash)
        if data is None:
            data = read_original(blobpath, expected_hash)
        return data

    @functools.wraps(load_original)
    def load_tiktoken_bpe(tiktoken_bpe_file: str, expected_hash: Optional[str] = None) -> Dict[bytes, int]:
        data = serve(tiktoken_bpe_file, expected_hash)
        if data is None:
            ranks: Dict[bytes, int] = load_original(tiktoken_bpe_file, expected_hash)
            return ranks
        return parse_ranks(data)

    for wrapper in (read_file_cached, load_tiktoken_bpe):
        setattr(wrapper, "__harmony_vocab__", True)
    setattr(module, "read_file_cached", read_file_cached)
    setattr(module, "load_tiktoken_bpe", load_tiktoken_bpe)
    return True


def serve(url: str, expected_hash: Optional[str], resolver: Optional[Callable[[str], Any]] = None) -> Optional[bytes]:
    """The verified bytes of the pinned vocab at `url`, from the lookup order (`resolver`,
    default `harmony_vocab.resolve`); None when `url` or `expected_hash` is not ours, or when
    the lookup order has no verified copy. The lookup's warnings are not shown: this runs inside
    programs that never named harmony-vocab (``harmony-vocab doctor`` shows them)."""
    name = ours(url, expected_hash)
    if name is None:
        return None
    try:
        import warnings

        from .integrity import read_verified
        from .pins import get_pin
        from .resolution import resolve

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            path = (resolver or resolve)(name).path
        return read_verified(path, get_pin(name))
    except Exception:
        return None


def parse_ranks(data: bytes) -> Dict[bytes, int]:
    """tiktoken's ``mergeable_ranks`` (token bytes -> rank) of a verified ``.tiktoken`` file, as
    ``tiktoken.load.load_tiktoken_bpe`` builds them, in about two thirds of its time."""
    parts = data.split()
    return dict(zip(map(binascii.a2b_base64, parts[::2]), map(int, parts[1::2])))
