"""tiktoken glue: the start-up hook that serves unmodified tiktoken, `tiktoken_encoding`, and
`seed_tiktoken_cache`.

The hook: tiktoken reads every vocab file through ``tiktoken.load.read_file_cached(url,
expected_hash)`` (``load_tiktoken_bpe`` and ``data_gym_to_mergeable_bpe_ranks`` call it); once
``tiktoken.load`` has run, `patch` wraps the three so that a pinned URL asked for with its pin's
sha256 (or none) is answered with the verified bytes of ``resolve(vocab)`` (GPT-2's ranks from its
``vocab.bpe`` alone). Every other URL or hash, a vocab whose wheel is not installed, a tiktoken whose
functions look different, and any failure of ours: tiktoken's own code runs, as if we were absent.
This module is imported when tiktoken is, never before; it does not import tiktoken.
"""

import binascii
import functools
import os
import sys
import types
from _thread import get_ident

from .errors import MissingExtraError, NotShippedError, VocabError
from .pins import PINS, File, file_for_url

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from importlib.machinery import ModuleSpec
    from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Union

    PathArg = Union[str, "os.PathLike[str]", None]

_busy: "Set[int]" = set()  # threads inside find_spec: a finder importing tiktoken.load is not looped


def find_spec(finder: "Any", fullname: str, path: "Optional[Sequence[str]]",
              target: "Optional[types.ModuleType]") -> "Optional[ModuleSpec]":
    """The spec the other finders give for ``tiktoken.load``, its loader wrapped so that the
    module is patched once it has run. ``sys.meta_path`` is never changed here (other imports,
    in this thread or others, may be walking it); a probe (``importlib.util.find_spec``) that
    loads nothing uses nothing up."""
    me = get_ident()
    if me in _busy:
        return None
    _busy.add(me)
    try:
        for other in list(sys.meta_path):
            find = getattr(other, "find_spec", None)
            if other is finder or type(other).__name__ == "TiktokenFinder" or find is None:
                continue
            spec: "Optional[ModuleSpec]" = find(fullname, path, target)
            if spec is not None:
                if hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader)  # type: ignore[assignment]
                return spec
        return None
    finally:
        _busy.discard(me)


class _PatchingLoader:
    """The real loader, plus `patch` once the module has run; the module keeps the real one."""

    def __init__(self, loader: "Any") -> None:
        self.loader = loader

    def __getattr__(self, name: str) -> "Any":  # create_module and the rest: the real loader's
        return getattr(self.loader, name)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        try:
            patch(module)
        except Exception:  # tiktoken as it is
            pass


class TiktokenFinder:
    """The finder ``_harmony_vocab_startup`` installs at start-up, for a process that started
    without it (`install_hook`): it reacts to ``tiktoken.load`` alone."""

    def find_spec(self, fullname: str, path: "Optional[Sequence[str]]" = None,
                  target: "Optional[types.ModuleType]" = None) -> "Optional[ModuleSpec]":
        return find_spec(self, fullname, path, target) if fullname == "tiktoken.load" else None


def hook_installed() -> bool:
    """Whether the tiktoken finder (the start-up shim's, or `TiktokenFinder`) is on sys.meta_path."""
    return any(type(f).__name__ == "TiktokenFinder" for f in sys.meta_path)


def install_hook() -> None:
    """Serve tiktoken in this process as the start-up run does: the finder, or, when
    ``tiktoken.load`` is already imported, its functions wrapped now."""
    loaded = sys.modules.get("tiktoken.load")
    if loaded is not None:
        patch(loaded)
    elif not hook_installed():
        sys.meta_path.insert(0, TiktokenFinder())


def _takes(function: object, *names: str) -> bool:
    """True for a plain function whose parameters are `names`, as tiktoken 0.6 to 0.14 have them."""
    code = getattr(function, "__code__", None)
    return code is not None and code.co_varnames[:code.co_argcount] == names


def patch(module: types.ModuleType) -> bool:
    """Wrap the three functions of a ``tiktoken.load`` module (the third if it looks as expected);
    False (and nothing changed) when the first two do not look as expected."""
    read_original: "Any" = getattr(module, "read_file_cached", None)
    load_original: "Any" = getattr(module, "load_tiktoken_bpe", None)
    gym_original: "Any" = getattr(module, "data_gym_to_mergeable_bpe_ranks", None)
    if getattr(load_original, "__harmony_vocab__", False):
        return True
    if not (_takes(read_original, "blobpath", "expected_hash")
            and _takes(load_original, "tiktoken_bpe_file", "expected_hash")):
        return False

    @functools.wraps(read_original)
    def read_file_cached(blobpath: str, expected_hash: "Optional[str]" = None) -> "Any":  # what tiktoken's returns
        data = serve(blobpath, expected_hash)
        return read_original(blobpath, expected_hash) if data is None else data

    @functools.wraps(load_original)
    def load_tiktoken_bpe(tiktoken_bpe_file: str, expected_hash: "Optional[str]" = None) -> "Any":
        data = serve(tiktoken_bpe_file, expected_hash)
        return load_original(tiktoken_bpe_file, expected_hash) if data is None else parse_ranks(data)

    @functools.wraps(gym_original)
    def data_gym_to_mergeable_bpe_ranks(*args: "Any", **kwargs: "Any") -> "Any":
        try:
            ranks: "Optional[Dict[bytes, int]]" = data_gym_ranks(serve, *args, **kwargs)
        except Exception:  # not ours, or a failure of ours: tiktoken's own, no exception chained
            ranks = None
        return gym_original(*args, **kwargs) if ranks is None else ranks

    wrappers: "List[Any]" = [read_file_cached, load_tiktoken_bpe]
    gym = data_gym_ranks.__code__.co_varnames[1:data_gym_ranks.__code__.co_argcount]  # its parameters, ours
    if _takes(gym_original, *gym) or _takes(gym_original, *gym[:-1]):  # tiktoken 0.11+ adds clobber_one_byte_tokens
        wrappers.append(data_gym_to_mergeable_bpe_ranks)
    for wrapper in wrappers:
        setattr(wrapper, "__harmony_vocab__", True)
        setattr(module, wrapper.__name__, wrapper)
    return True


def _pinned(url: str, expected_hash: "Optional[str]") -> "Optional[File]":
    """The pinned file at `url`, when asked for with its sha256 (or none)."""
    f = file_for_url(url)
    return f if f is not None and expected_hash in (None, f.sha256) else None


def read_url(url: str, expected_hash: "Optional[str]" = None, **lookup: "Any") -> bytes:
    """The verified bytes of the pinned file at `url`, from the lookup order (`lookup` is passed
    to `resolve`); raises what `resolve` raises."""
    from .files import read_verified
    from .lookup import resolve

    f = _pinned(url, expected_hash)
    if f is None:
        raise NotShippedError(f"{url} (sha256 {expected_hash}) is no file harmony-vocab pins")
    return read_verified(resolve(f.vocab, **lookup).strings[PINS[f.vocab].files.index(f)], f)


def serve(url: str, expected_hash: "Optional[str]") -> "Optional[bytes]":
    """`read_url` for the hook: None when `url` or `expected_hash` is not ours, the vocab's wheel
    is not installed, or the lookup order has no verified copy. Its warnings are not shown: this
    runs inside programs that never named harmony-vocab (``harmony-vocab doctor`` shows them)."""
    from .tiers import data_dir

    f = _pinned(url, expected_hash)
    if f is None or (PINS[f.vocab].wheel != "core" and data_dir(PINS[f.vocab].wheel) is None):
        return None
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return read_url(url, expected_hash)
    except Exception:
        return None


def parse_ranks(data: bytes) -> "Dict[bytes, int]":
    """tiktoken's ``mergeable_ranks`` of a verified ``.tiktoken`` file, as ``load_tiktoken_bpe``
    builds them, in about two thirds of its time."""
    parts = data.split()
    return dict(zip(map(binascii.a2b_base64, parts[::2]), map(int, parts[1::2])))


def data_gym_ranks(read: "Callable[[str, Optional[str]], Optional[bytes]]", vocab_bpe_file: str, encoder_json_file: str,
                   vocab_bpe_hash: "Optional[str]" = None, encoder_json_hash: "Optional[str]" = None,
                   clobber_one_byte_tokens: bool = False) -> "Dict[bytes, int]":
    """tiktoken's ``data_gym_to_mergeable_bpe_ranks`` of a pinned vocab (GPT-2's), from its ``vocab.bpe``
    as `read` gives it; its ``encoder.json`` (the same ranks, verified by `resolve`) is not parsed, and
    so ``clobber_one_byte_tokens`` (tiktoken 0.11+), which takes the one-byte ranks from it, changes
    nothing. Raises `NotShippedError` for any other files, and what `read` raises."""
    files = (_pinned(vocab_bpe_file, vocab_bpe_hash), _pinned(encoder_json_file, encoder_json_hash))
    ours = files[0] is not None and PINS[files[0].vocab].files == files
    data = read(vocab_bpe_file, vocab_bpe_hash) if ours else None
    if data is None:
        raise NotShippedError(f"{vocab_bpe_file} and {encoder_json_file} are no vocab harmony-vocab pins")
    from .tokenizer_json import BYTE_DECODER

    texts = [*map(chr, BYTE_DECODER), *data.decode().replace(" ", "").split("\n")[1:-1]]  # 256 bytes, then merges
    return {text.translate(BYTE_DECODER).encode("latin-1"): rank for rank, text in enumerate(texts)}


def tiktoken_encoding(name: str, *, vocab_path: "PathArg" = None, vocab_dir: "PathArg" = None,
                      model_dir: "PathArg" = None, download: "Optional[bool]" = None) -> "Any":
    """A ``tiktoken.Encoding`` that behaves as ``tiktoken.get_encoding(name)``, built offline from
    the resolved, verified files, for every encoding of ``tiktoken_ext.openai_public`` (those on
    the companion's vocabs need ``harmony-vocab[legacy]``). The pattern and special tokens come
    from tiktoken's own definition, run over a private copy of its module's names: tiktoken is
    left as it is, for every thread. Raises `NotShippedError` for any other name, and what
    `resolve` raises. Needs ``harmony-vocab[tiktoken]``."""
    try:
        import tiktoken
        from tiktoken_ext import openai_public
    except ImportError:
        raise MissingExtraError("tiktoken", "tiktoken", "tiktoken_encoding") from None
    constructors: "Dict[str, Any]" = getattr(openai_public, "ENCODING_CONSTRUCTORS", {})
    constructor = constructors.get(name) if isinstance(name, str) else None
    if not isinstance(constructor, types.FunctionType):
        known = ", ".join(e for pin in PINS.values() for e in pin.encodings)
        raise NotShippedError(f"unknown tiktoken encoding {name!r}: expected one of {known}")
    read = functools.partial(read_url, vocab_path=vocab_path, vocab_dir=vocab_dir, model_dir=model_dir,
                             download=download)
    names = {**vars(openai_public), "data_gym_to_mergeable_bpe_ranks": functools.partial(data_gym_ranks, read),
             "load_tiktoken_bpe": lambda url, expected_hash=None: parse_ranks(read(url, expected_hash))}
    for key, value in list(names.items()):  # o200k_harmony() calls o200k_base(): all of them over `names`
        if isinstance(value, types.FunctionType) and value.__module__ == openai_public.__name__:
            names[key] = types.FunctionType(value.__code__, names, value.__name__, value.__defaults__,
                                            value.__closure__)
    return tiktoken.Encoding(**names[constructor.__name__]())


def seed_tiktoken_cache(directory: "PathArg" = None, names: "Optional[Iterable[str]]" = None,
                        waiting: "Optional[Any]" = None) -> "List[str]":
    """Write verified copies where ``tiktoken.get_encoding`` looks before downloading (default:
    ``TIKTOKEN_CACHE_DIR``, else ``DATA_GYM_CACHE_DIR``, else ``$TMPDIR/data-gym-cache``); return
    the paths. Raises `export.CacheDirError` as `export.seed_cache` does."""
    from .export import seed_cache
    from .tiers import TIKTOKEN_CACHE_VARS, installed_vocabs, tiktoken_cache_dir

    target = tiktoken_cache_dir(os.environ) if directory is None else os.fspath(directory)
    if target is None:
        raise VocabError(f"tiktoken's cache is disabled ({TIKTOKEN_CACHE_VARS[0]} is empty): pass a directory")
    return seed_cache(target, installed_vocabs() if names is None else names, TIKTOKEN_CACHE_VARS[0], "tiktoken",
                      waiting=waiting)
