"""Where things are, from the settings: our cache, openai-harmony's and tiktoken's caches, model
directories and the Hugging Face hub cache; the places of the model and cache tiers.

Part of the lookup order of ``_harmony_vocab_lookup`` (`places`), kept apart because interpreter
start-up rarely needs it: imported only when the lookup gets this far. Stdlib ``os`` only.
"""

import os

from _harmony_vocab_lookup import (
    HF_HUB_CACHE_VARS,
    MODEL_SUBDIRS,
    PINS,
    QUIET,
    TIKTOKEN_CACHE_VARS,
    TIKTOKEN_RS_CACHE_DIR,
    ENV_CACHE_DIR,
    WARN,
    Place,
    absolute,
    env_value,
    home,
    open_regular,
    user_path,
)

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Iterator

    from _harmony_vocab_lookup import Environ, Pin


def user_cache_root(environ: "Environ") -> "str | None":
    """``$XDG_CACHE_HOME``, else ``~/.cache``; None without a home directory."""
    xdg = env_value(environ, "XDG_CACHE_HOME")
    if xdg:
        return user_path(environ, xdg)
    base = home(environ)
    return os.path.join(base, ".cache") if base else None


def cache_dir(environ: "Environ") -> "str | None":
    """Our per-user cache: ``$HARMONY_VOCAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/harmony-vocab``,
    else ``~/.cache/harmony-vocab``; None when none of them can be known."""
    explicit = env_value(environ, ENV_CACHE_DIR)
    if explicit:
        return user_path(environ, explicit)
    root = user_cache_root(environ)
    return os.path.join(root, "harmony-vocab") if root else None


def harmony_cache_dir(environ: "Environ") -> str:
    """openai-harmony's download cache, as its Rust code reads it: ``$TIKTOKEN_RS_CACHE_DIR``,
    else ``std::env::temp_dir()`` (``$TMPDIR``, else ``/tmp``) joined with ``tiktoken-rs-cache``;
    a variable set but empty is the current directory there, and so here."""
    explicit = environ.get(TIKTOKEN_RS_CACHE_DIR)
    if explicit is not None:
        return absolute(explicit)
    tmp = environ.get("TMPDIR")
    return absolute(os.path.join("/tmp" if tmp is None else tmp, "tiktoken-rs-cache"))


def tiktoken_cache_dir(environ: "Environ") -> str:
    """tiktoken's download cache: ``$TIKTOKEN_CACHE_DIR``, else ``$DATA_GYM_CACHE_DIR``, else
    ``tempfile.gettempdir()/data-gym-cache``; "" when tiktoken's cache is disabled (set to "")."""
    for var in TIKTOKEN_CACHE_VARS:
        if var in environ:
            return environ[var]
    import tempfile

    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def hf_hub_cache(environ: "Environ") -> "str | None":
    """The Hugging Face hub cache, found as ``huggingface_hub.constants`` finds it:
    ``HF_HUB_CACHE``, ``HUGGINGFACE_HUB_CACHE``, ``$HF_HOME/hub``,
    ``$XDG_CACHE_HOME/huggingface/hub``, ``~/.cache/huggingface/hub`` (a variable set but empty
    counts as set, as there); None without a home directory to start from."""
    hf_home = environ.get("HF_HOME")
    if hf_home is None:
        xdg = environ.get("XDG_CACHE_HOME")
        base = home(environ)
        if xdg is None and base is not None:
            xdg = os.path.join(base, ".cache")
        hf_home = None if xdg is None else os.path.join(xdg, "huggingface")
    default = None if hf_home is None else os.path.join(hf_path(environ, hf_home), "hub")
    legacy = environ.get(HF_HUB_CACHE_VARS[1], default)
    hub = environ.get(HF_HUB_CACHE_VARS[0], legacy)
    return None if hub is None else hf_path(environ, hub)


def hf_path(environ: "Environ", value: str) -> str:
    """A path as huggingface_hub reads one from the environment: ``~``, then ``$VAR`` and
    ``${VAR}`` (from `environ`; an unknown one is left as it is) expanded; made absolute."""
    value = os.path.expanduser(value)
    if "$" in value:
        import re

        value = re.sub(r"\$(\w+|\{[^}]*\})",
                       lambda m: environ.get(m.group(1).strip("{}"), m.group(0)), value, flags=re.ASCII)
    return absolute(value)


def model_roots(model_dir: str, environ: "Environ") -> "tuple[list[str], str]":
    """``(roots, how)``: the directories a model directory or Hugging Face repo id stands for.

    A directory is its own root. An ``org/name`` repo id is looked up in the local hub cache with
    no network: ``models--org--name/snapshots/<rev>/``, the revision named in ``refs/main`` first,
    then the others by name. `how` says what was found (or why nothing was)."""
    path = user_path(environ, model_dir)
    if os.path.isdir(path):
        return [path], "directory"
    parts = model_dir.split("/")
    if os.path.lexists(path) or len(parts) != 2 or not all(_repo_part(p) for p in parts):
        return [], "not a directory"
    hub = hf_hub_cache(environ)
    if hub is None:
        return [], "not a directory, nor a repo id in the Hugging Face cache (no home directory to find it in)"
    repo = os.path.join(hub, "models--" + "--".join(parts))
    snapshots = os.path.join(repo, "snapshots")
    try:
        revisions = sorted(e for e in os.listdir(snapshots) if os.path.isdir(os.path.join(snapshots, e)))
    except OSError:
        return [], "not a directory, nor a repo id in the Hugging Face cache (%s missing)" % repo
    try:
        main = _read_small(os.path.join(repo, "refs", "main"), 100).decode("ascii").strip()
    except (OSError, ValueError):
        main = ""
    ordered = ([main] if main in revisions else []) + [r for r in revisions if r != main]
    return [os.path.join(snapshots, r) for r in ordered], "Hugging Face cache " + repo


def _read_small(path: str, limit: int) -> bytes:
    """The first `limit` bytes of the regular file `path` (see `open_regular`)."""
    fd = open_regular(path)
    try:
        return os.read(fd, limit)
    finally:
        os.close(fd)


def _repo_part(text: str) -> bool:
    return bool(text) and text[0].isalnum() and all(c.isalnum() or c in "_.-" for c in text)


def model_places(pin: "Pin", model_dir: str, source: str, environ: "Environ") -> "Iterator[Place]":
    roots, how = model_roots(model_dir, environ)
    label = "%s=%s" % (source, model_dir)
    if not roots:
        yield Place("model", label, outcome=how, on_failure=WARN)
        return
    dirs = [os.path.join(root, sub) if sub else root for root in roots for sub in MODEL_SUBDIRS]
    found = False
    for directory in dirs:
        path = os.path.join(directory, pin["file"])
        if os.path.lexists(path):
            found = True
            yield Place("model", path, path, on_failure=WARN, registrable=True)
        else:
            yield Place("model", path, outcome="missing")
    tokenizers = [os.path.join(d, "tokenizer.json") for d in dirs]
    tokenizers = [t for t in tokenizers if os.path.lexists(t)]
    for tokenizer in tokenizers:
        yield Place("model", tokenizer, tokenizer, kind="tokenizer.json", on_failure=WARN)
    holds_any = any(os.path.lexists(os.path.join(d, p["file"])) for d in dirs for p in PINS.values())
    if (found or holds_any) and not tokenizers:
        # a model directory for another vocab (GPT-OSS ships o200k only): nothing to warn about
        yield Place("model", os.path.join(model_dir, "**", "tokenizer.json"), outcome="none found")
    elif not tokenizers:
        where = ", ".join((sub or ".") + "/" for sub in MODEL_SUBDIRS)
        yield Place("model", label, outcome="holds neither %s nor a tokenizer.json (looked in %s)"
                    % (pin["file"], where), on_failure=WARN)


def cache_places(pin: "Pin", environ: "Environ") -> "Iterator[Place]":
    """The cache tier's places: our cache, openai-harmony's, tiktoken's."""
    file = pin["file"]
    ours = cache_dir(environ)
    if ours is None:
        yield Place("cache", "harmony-vocab's cache",
                    outcome="no home directory: set %s to a directory of yours" % ENV_CACHE_DIR)
    else:
        path = os.path.join(ours, file)
        yield Place("cache", path, path, registrable=True)
    path = os.path.join(harmony_cache_dir(environ), pin["cache_key"])
    yield Place("cache", path, path)
    tiktoken_dir = tiktoken_cache_dir(environ)
    if tiktoken_dir:
        path = os.path.join(tiktoken_dir, pin["cache_key"])
        yield Place("cache", path, path)
    else:
        yield Place("cache", "tiktoken's cache", outcome="disabled (TIKTOKEN_CACHE_DIR is empty)")
