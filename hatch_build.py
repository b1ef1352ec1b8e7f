"""Build hook: put verified copies of the pinned vocab files into the package data directory.

For every vocab in vocab_manifest.toml, the first source that yields a file of the pinned size and
sha256 wins:

1. the local mirror directory named by ``HARMONY_VOCAB_SOURCE_DIR``;
2. the file already in ``src/harmony_vocab/data/`` (an earlier build, or an unpacked sdist);
3. the download cache (``HARMONY_VOCAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/harmony-vocab``, else
   ``~/.cache/harmony-vocab``);
4. a download: ``HARMONY_VOCAB_BASE_URL`` first, then the manifest's URLs, each file within
   ``HARMONY_VOCAB_DOWNLOAD_DEADLINE`` seconds; never when ``HARMONY_VOCAB_OFFLINE=1``.

A candidate that fails its pin is reported and never used. The hook also regenerates
the pins in ``src/_harmony_vocab_startup.py`` (the run-time copy) from the manifest, and, once a
wheel is built, deflates its members at zlib level 9 (`recompress`). Run ``python hatch_build.py``
to place the files without building anything.
"""

from __future__ import annotations

import os
import re
import sys
import zipfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional

try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # running as a script or from tests without hatchling
    BuildHookInterface = object  # type: ignore[assignment,misc]

ROOT = Path(__file__).resolve().parent
MANIFEST = "vocab_manifest.toml"
PACKAGE_DIR = Path("src") / "harmony_vocab"
STARTUP_MODULE = Path("src") / "_harmony_vocab_startup.py"
BEGIN_GENERATED = "# --- generated from vocab_manifest.toml by hatch_build.py: do not edit by hand ---\n"
END_GENERATED = "# --- end of generated part ---\n"
DATA_DIR = PACKAGE_DIR / "data"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[a-z0-9_]+$")

Log = Callable[[str], None]


class BuildSetupError(Exception):
    """A setting or manifest entry that the build cannot use; the message says which and why."""


def _package() -> Any:
    """Import harmony_vocab from this tree's src/ (the hook reuses its fetch/verify code)."""
    src = str(ROOT / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    for name, module in list(sys.modules.items()):  # an installed copy (its .pth ran): use this tree's
        if name == "_harmony_vocab_startup" or name.split(".")[0] == "harmony_vocab":
            if not str(getattr(module, "__file__", None) or "").startswith(src):
                del sys.modules[name]
    import harmony_vocab.errors
    import harmony_vocab.fetch
    import harmony_vocab.integrity
    import harmony_vocab.locations
    import harmony_vocab.pins
    import harmony_vocab.storage

    import _harmony_vocab_startup

    harmony_vocab.startup = _harmony_vocab_startup
    return harmony_vocab


def load_manifest(path: Path) -> Dict[str, Dict[str, Any]]:
    """Read and validate the manifest; return ``{name: entry}`` in file order."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise BuildSetupError(f"cannot read the manifest {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BuildSetupError(f"{path} is not valid TOML: {exc}") from None
    startup = _package().startup
    sample_length = startup.SAMPLES * startup.SAMPLE_BYTES
    vocabs = data.get("vocab")
    if not isinstance(vocabs, dict) or not vocabs:
        raise BuildSetupError(f"{path}: expected at least one [vocab.<name>] table")
    for name, entry in vocabs.items():
        where = f"{path}: [vocab.{name}]"
        if not _NAME.match(name):
            raise BuildSetupError(f"{where}: the name must be lowercase letters, digits and _")
        if entry.get("file") != f"{name}.tiktoken":
            raise BuildSetupError(f"{where}: file must be {name}.tiktoken, got {entry.get('file')!r}")
        if not _SHA256.match(str(entry.get("sha256", ""))):
            raise BuildSetupError(f"{where}: sha256 must be 64 lowercase hex digits")
        for key in ("size", "ranks"):
            if not isinstance(entry.get(key), int) or entry[key] <= 0:
                raise BuildSetupError(f"{where}: {key} must be a positive integer")
        urls = entry.get("urls")
        if not isinstance(urls, list) or not urls or not all(
            isinstance(u, str) and u.startswith("https://") for u in urls
        ):
            raise BuildSetupError(f"{where}: urls must be a non-empty list of https:// URLs")
        if "byte_level_sha256" in entry and not _SHA256.match(str(entry["byte_level_sha256"])):
            raise BuildSetupError(f"{where}: byte_level_sha256 must be 64 lowercase hex digits")
        sample, digits = entry.get("sample"), 2 * sample_length
        if not isinstance(sample, str) or not re.fullmatch(f"[0-9a-f]{{{digits}}}", sample):
            raise BuildSetupError(f"{where}: sample must be {digits} lowercase hex digits "
                                  f"(the bytes the start-up check compares; see the manifest's header)")
        unknown = set(entry) - {"file", "sha256", "size", "ranks", "urls", "byte_level_sha256", "sample"}
        if unknown:
            raise BuildSetupError(f"{where}: unknown keys {sorted(unknown)}")
    return vocabs


def render_pins(vocabs: Mapping[str, Mapping[str, Any]]) -> str:
    """The generated part of src/_harmony_vocab_startup.py: the pins of these manifest entries,
    plus each one's cache name (the sha1 of its canonical URL)."""
    lines = [BEGIN_GENERATED.rstrip("\n"), 'PINS: "Dict[str, Dict[str, Any]]" = {']
    for name, entry in vocabs.items():
        lines.append(f'    "{name}": {{')
        for key in ("file", "sha256", "size", "ranks", "byte_level_sha256", "sample"):
            if key in entry:
                value = entry[key]
                lines.append(f'        "{key}": ' + (f'"{value}"' if isinstance(value, str) else str(value)) + ",")
        urls = "".join(f'"{u}", ' for u in entry["urls"]).rstrip(" ")
        lines.append(f'        "urls": ({urls}),')
        lines.append(f'        "cache_key": "{_package().pins.url_cache_name(entry["urls"][0])}",')
        lines.append("    },")
    lines += ["}", END_GENERATED]
    return "\n".join(lines)


def render_startup_module(text: str, vocabs: Mapping[str, Mapping[str, Any]]) -> str:
    """`text` (the start-up module) with its generated part replaced by `render_pins`."""
    try:
        start = text.index(BEGIN_GENERATED)
        end = text.index(END_GENERATED, start) + len(END_GENERATED)
    except ValueError:
        raise BuildSetupError(f"{STARTUP_MODULE}: the markers of the generated part are missing") from None
    return text[:start] + render_pins(vocabs) + text[end:]


def obtain(
    pin: Any,
    data_dir: Path,
    *,
    source_dir: Optional[str],
    cache_dir: Path,
    offline: bool,
    urls: List[str],
    log: Log,
    fetch_options: Optional[Dict[str, Any]] = None,
) -> Path:
    """Place a verified copy of `pin` at ``data_dir/<pin.file>``; return its path.

    Sources are tried in order (mirror, data dir, cache, download); the first verified one wins.
    Raises `BuildSetupError` listing every source tried and why it failed.
    """
    hv = _package()
    Attempt = hv.errors.Attempt
    check_file = hv.integrity.check_file

    def place(source: Path) -> Path:
        """Copy a verified source into the data directory atomically, verified as it is copied
        (a source changed since it was checked leaves the target untouched), and check the copy."""
        hv.storage.copy_atomic(source, target, pin)
        check_file(target, pin)
        return target

    describe = hv.integrity.describe_failure
    target: Path = data_dir / pin.file
    attempts: List[Any] = []

    def candidate(tier: str, path: Path) -> bool:
        try:
            check_file(path, pin)
        except (hv.errors.VocabIntegrityError, OSError) as exc:
            attempts.append(Attempt(tier, str(path), describe(exc)))
            if isinstance(exc, hv.errors.VocabIntegrityError):
                log(f"harmony-vocab: ignoring {path}: {exc.reason}")
            return False
        attempts.append(Attempt(tier, str(path), "verified", ok=True))
        return True

    if source_dir:
        if candidate("mirror (HARMONY_VOCAB_SOURCE_DIR)", Path(source_dir) / pin.file):
            return place(Path(source_dir) / pin.file)
    else:
        attempts.append(Attempt("mirror", hv.locations.ENV_SOURCE_DIR, "not set"))
    if candidate("package data", target):
        return target
    cached = cache_dir / pin.file
    if candidate("cache", cached):
        return place(cached)
    if offline:
        attempts.append(hv.fetch.offline_attempt(urls))
    else:
        log(f"harmony-vocab: downloading {pin.file} into {cache_dir}")
        try:
            downloaded = hv.fetch.download(pin, cache_dir, urls, **(fetch_options or {}))
        except hv.errors.FetchError as exc:
            attempts.extend(exc.attempts)
        except OSError as exc:  # the cache directory cannot be created or written
            attempts.append(Attempt("download", str(cache_dir), describe(exc)))
        else:
            return place(downloaded)
    if target.is_symlink() or target.is_file():
        # rejected above: a failed build must not leave it where packaging would pick it up
        target.unlink()
        log(f"harmony-vocab: removed the rejected {target}")
    raise BuildSetupError(
        f"no verified copy of {pin.file} (sha256 {pin.sha256}, {pin.size} bytes). "
        f"Sources tried, in order:\n{hv.errors.format_attempts(attempts)}\n"
        "To fix: set HARMONY_VOCAB_SOURCE_DIR to a directory holding verified copies "
        "(see vocab_manifest.toml for the pins), or HARMONY_VOCAB_BASE_URL to an internal mirror"
        + (", or unset HARMONY_VOCAB_OFFLINE to allow downloads." if offline else ".")
    )


def prepare(root: Path = ROOT, environ: Optional[Mapping[str, str]] = None, log: Log = print) -> List[Path]:
    """Regenerate the pins of the start-up module and place every pinned vocab in the data
    directory; return the paths."""
    environ = os.environ if environ is None else environ
    hv = _package()
    try:
        offline = hv.locations.env_flag(hv.locations.ENV_OFFLINE, False, environ)
        deadline = hv.fetch.download_deadline(environ)
    except hv.errors.VocabError as exc:
        raise BuildSetupError(str(exc)) from None
    source_dir = environ.get(hv.locations.ENV_SOURCE_DIR) or None
    if source_dir and not os.path.isdir(source_dir):
        raise BuildSetupError(
            f"HARMONY_VOCAB_SOURCE_DIR={source_dir!r} is not a directory: point it at a folder "
            "holding o200k_base.tiktoken and cl100k_base.tiktoken, or unset it"
        )
    vocabs = load_manifest(root / MANIFEST)
    startup_path = root / STARTUP_MODULE
    current = startup_path.read_text()
    rendered = render_startup_module(current, vocabs)
    if rendered != current:
        startup_path.write_text(rendered)
    pins = hv.pins.pins_from_mapping(vocabs)
    cache = hv.locations.cache_dir(environ)
    try:
        url_lists = {
            name: hv.fetch.download_urls(pin, environ.get(hv.locations.ENV_BASE_URL, ""),
                                         local_advice=f"for a local directory, set {hv.locations.ENV_SOURCE_DIR}")
            for name, pin in pins.items()
        }
    except hv.errors.FetchError as exc:
        raise BuildSetupError(str(exc)) from None
    placed = [
        obtain(pin, root / DATA_DIR, source_dir=source_dir, cache_dir=cache, offline=offline,
               urls=url_lists[name], log=log, fetch_options={"deadline": deadline})
        for name, pin in pins.items()
    ]
    for path, (name, entry) in zip(placed, vocabs.items()):
        check_sample(path, name, entry, root / MANIFEST)
    return placed


def check_sample(path: Path, name: str, entry: Mapping[str, Any], manifest: Path) -> None:
    """Raise `BuildSetupError` unless the manifest's ``sample`` of `name` is the verified file's:
    a wrong one would make every start-up pass the bundled copy over, silently."""
    startup = _package().startup
    data = path.read_bytes()
    actual = b"".join(data[o:o + startup.SAMPLE_BYTES] for o in startup.sample_offsets(len(data))).hex()
    if actual != entry["sample"]:
        raise BuildSetupError(f"{manifest}: [vocab.{name}]: sample is not the verified {path.name}'s "
                              f"bytes: expected sample = \"{actual}\"")


def recompress(archive: Path, level: int = 9) -> None:
    """Rewrite a zip (the wheel) with every deflated member at zlib `level`; names, order,
    timestamps, attributes and contents stay the same, so RECORD still holds and the result is as
    reproducible as the input. Hatchling deflates at zlib's default level 6, which leaves ~3 KB of
    the vocab files' compressible bytes in every wheel."""
    with zipfile.ZipFile(archive) as src, _package().storage.atomic_file(archive) as out:
        with zipfile.ZipFile(out, "w") as dst:
            for info in src.infolist():
                dst.writestr(info, src.read(info), compress_type=info.compress_type, compresslevel=level)


class VocabBuildHook(BuildHookInterface):  # type: ignore[misc,valid-type,type-arg,unused-ignore]
    """Hatchling hook: runs `prepare` before every wheel, sdist and editable build."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: Dict[str, Any]) -> None:
        try:
            prepare(Path(self.root), os.environ, self.app.display_info)
        except BuildSetupError as exc:
            self.app.display_error(f"harmony-vocab build: {exc}")
            raise SystemExit(1) from None
        if self.target_name == "wheel" and version == "editable":
            # only the .pth: the start-up module is then imported from src/ (on sys.path through
            # hatchling's own .pth, which site reads first), so an edit to it needs no reinstall
            build_data["force_include_editable"] = {"src/harmony_vocab.pth": "harmony_vocab.pth"}

    def finalize(self, version: str, build_data: Dict[str, Any], artifact_path: str) -> None:
        if self.target_name == "wheel" and version != "editable":
            recompress(Path(artifact_path))


if __name__ == "__main__":
    try:
        for path in prepare():
            print(path)
    except BuildSetupError as exc:
        sys.exit(f"harmony-vocab build: {exc}")
