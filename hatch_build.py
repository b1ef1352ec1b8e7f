"""Build hook of harmony-vocab and of its companion, harmony-vocab-legacy (``legacy/``, whose
``hatch_build.py`` and ``vocab_manifest.toml`` link to these).

Its one option, ``wheel`` (``[tool.hatch.build.hooks.custom]``; default "core"), names the
manifest's ``[wheel.<name>]`` to build. For each file of each vocab that wheel ships, the first
source whose size and sha256 match the pin is copied into ``src/<package>/data/``:

1. the local mirror ``HARMONY_VOCAB_SOURCE_DIR`` (the file by its name, or by its URL's path);
2. the file already in the data directory (an earlier build, or an unpacked sdist);
3. our download cache (``HARMONY_VOCAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/harmony-vocab``,
   else ``~/.cache/harmony-vocab``);
4. a download (``HARMONY_VOCAB_BASE_URL`` first, then the pinned URLs), never with
   ``HARMONY_VOCAB_OFFLINE=1``.

The core build also writes the pins into ``src/harmony_vocab/_pins.py``; both are build artifacts
git ignores. Once a wheel is built its members are deflated at zlib level 9 (`recompress`).
``python hatch_build.py [core|legacy]`` does the same without building anything.
"""

import hashlib
import os
import re
import sys
import zipfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional

try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run as a script, or from the tests
    BuildHookInterface = object  # type: ignore[assignment,misc]

MANIFEST = "vocab_manifest.toml"
CORE_SRC = Path(__file__).resolve().parent / "src"  # the core's sources, where the download code is
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[a-z0-9_]+$")

Log = Callable[[str], None]


class BuildSetupError(Exception):
    """A setting or manifest entry the build cannot use; the message says which and why."""


def load_manifest(path: Path) -> Dict[str, Any]:
    """The manifest, validated: ``{"vocab": {name: entry}, "wheel": {name: entry}}``."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    try:
        data: Dict[str, Any] = tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise BuildSetupError(f"cannot read the manifest {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BuildSetupError(f"{path} is not valid TOML: {exc}") from None
    wheels, vocabs = data.get("wheel"), data.get("vocab")
    if not isinstance(wheels, dict) or not isinstance(vocabs, dict) or not vocabs:
        raise BuildSetupError(f"{path}: expected [wheel.<name>] tables and at least one [vocab.<name>] table")
    for name, entry in vocabs.items():
        where = f"{path}: [vocab.{name}]"
        if not _NAME.match(name):
            raise BuildSetupError(f"{where}: the name must be lowercase letters, digits and _")
        if entry.get("wheel") not in wheels:
            raise BuildSetupError(f"{where}: wheel must be one of {', '.join(wheels)}, got {entry.get('wheel')!r}")
        unknown = set(entry) - {"wheel", "harmony", "encodings", "ranks", "byte_level_sha256", "files"}
        if unknown:
            raise BuildSetupError(f"{where}: unknown keys {sorted(unknown)}")
        files = entry.get("files")
        if not isinstance(files, list) or not files:
            raise BuildSetupError(f"{where}: files must be a non-empty list")
        for f in files:
            if not (isinstance(f.get("name"), str) and _SHA256.match(str(f.get("sha256", "")))
                    and isinstance(f.get("size"), int) and f["size"] > 0 and isinstance(f.get("urls"), list)
                    and f["urls"] and all(isinstance(u, str) and u.startswith("https://") for u in f["urls"])):
                raise BuildSetupError(f"{where}: each file needs name, sha256 (64 lowercase hex digits), size "
                                      f"(a positive integer) and urls (https://), got {f!r}")
    if sum(bool(e.get("harmony")) for e in vocabs.values()) != 1:
        raise BuildSetupError(f"{path}: exactly one vocab must say harmony = true")
    return data


def render_pins(manifest: Mapping[str, Any]) -> str:
    """The text of ``harmony_vocab/_pins.py``: the manifest, as Python literals."""
    return (f'"""Generated from {MANIFEST} by hatch_build.py at build time: do not edit."""\n\n'
            f"PINS = {manifest['vocab']!r}\n\nWHEELS = {manifest['wheel']!r}\n")


def sha256_of(path: Path, limit: int) -> Optional[str]:
    """The sha256 of the regular file `path` if it is `limit` bytes, else None."""
    try:
        if not path.is_file() or path.stat().st_size != limit:
            return None
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return None


def place(source: Path, target: Path, entry: Mapping[str, Any]) -> None:
    """Copy `source` onto `target` through a temporary file, only if the copy matches the pin."""
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        part.write_bytes(source.read_bytes())
        if sha256_of(part, entry["size"]) != entry["sha256"]:
            raise BuildSetupError(f"{source} changed while it was copied")
        os.replace(part, target)
    finally:
        if part.exists():
            part.unlink()


def obtain(entry: Mapping[str, Any], data_dir: Path, environ: Mapping[str, str], log: Log) -> Path:
    """Place a verified copy of the pinned file `entry` in `data_dir`; return its path, or raise
    `BuildSetupError` listing every source tried."""
    target: Path = data_dir / entry["name"]
    mirror = environ.get("HARMONY_VOCAB_SOURCE_DIR") or ""
    url_path = entry["urls"][0].split("://", 1)[1].split("/", 1)[1]
    candidates = [Path(mirror, entry["name"]), Path(mirror, url_path)] if mirror else []
    candidates.append(target)
    cache = _cache_dir(environ)
    candidates += [Path(cache, entry["name"])] if cache else []
    tried = []
    for candidate in candidates:
        actual = sha256_of(candidate, entry["size"])
        if actual == entry["sha256"]:
            if candidate != target:
                place(candidate, target, entry)
            return target
        tried.append(f"{candidate}: " + ("missing, or not of the pinned size" if actual is None else f"sha256 {actual}"))
    if (environ.get("HARMONY_VOCAB_OFFLINE") or "").strip().lower() in ("1", "true", "yes", "on"):
        tried.append("download: not allowed: HARMONY_VOCAB_OFFLINE=1 forbids every download")
    else:
        log(f"harmony-vocab: downloading {entry['name']}")
        try:
            downloaded = _download(entry, Path(cache or data_dir), environ)
        except Exception as exc:  # the download code's own one-line reasons, or no package to run it
            tried.append(f"download: {exc}")
        else:
            place(downloaded, target, entry)
            return target
    if target.exists() or target.is_symlink():
        target.unlink()  # rejected: never where packaging would pick it up
    raise BuildSetupError(f"no verified copy of {entry['name']} (sha256 {entry['sha256']}, {entry['size']} bytes). "
                          "Sources tried, in order:\n  " + "\n  ".join(tried) + "\nTo fix: set HARMONY_VOCAB_SOURCE_DIR "
                          "to a directory holding verified copies, or HARMONY_VOCAB_BASE_URL to an internal mirror.")


def _cache_dir(environ: Mapping[str, str]) -> Optional[str]:
    if environ.get("HARMONY_VOCAB_CACHE_DIR"):
        return environ["HARMONY_VOCAB_CACHE_DIR"]
    root = environ.get("XDG_CACHE_HOME") or (os.path.join(environ["HOME"], ".cache") if environ.get("HOME") else "")
    return os.path.join(root, "harmony-vocab") if root else None


def _download(entry: Mapping[str, Any], dest: Path, environ: Mapping[str, str]) -> Path:
    """Download with the package's own code (``harmony_vocab.download``), from the core's sources."""
    if not (CORE_SRC / "harmony_vocab" / "download.py").is_file():
        raise BuildSetupError("the download code (harmony_vocab/download.py) is not beside this hook")
    if str(CORE_SRC) not in sys.path:
        sys.path.insert(0, str(CORE_SRC))
    from harmony_vocab.download import download, download_urls
    from harmony_vocab.pins import File

    f = File("", entry["name"], entry["sha256"], entry["size"], tuple(entry["urls"]))
    base = environ.get("HARMONY_VOCAB_BASE_URL", "")
    return download(f, dest, download_urls(f, base, local_advice="for a local directory, set HARMONY_VOCAB_SOURCE_DIR"))


def prepare(root: Path, wheel: str = "core", environ: Optional[Mapping[str, str]] = None,
            log: Log = print) -> List[Path]:
    """Write the pins (core) and place every file `wheel` ships in its data directory."""
    environ = os.environ if environ is None else environ
    manifest = load_manifest(root / MANIFEST)
    if wheel not in manifest["wheel"]:
        raise BuildSetupError(f"the build hook's option wheel = {wheel!r} names no [wheel.<name>] of the manifest")
    mirror = environ.get("HARMONY_VOCAB_SOURCE_DIR")
    if mirror:  # relative: to the directory the build runs in, else to the repository (legacy/ builds)
        found = next((d for d in (os.path.abspath(mirror), str(CORE_SRC.parent / mirror)) if os.path.isdir(d)), None)
        if found is None:
            raise BuildSetupError(f"HARMONY_VOCAB_SOURCE_DIR={mirror!r} is not a directory: point it at a folder "
                                  "holding the vocab files, or unset it")
        environ = {**environ, "HARMONY_VOCAB_SOURCE_DIR": found}
    package = root / "src" / manifest["wheel"][wheel]["package"]
    pins = [package.parent / "harmony_vocab" / "_pins.py"] if wheel == "core" else []
    for path in pins + ([CORE_SRC / "harmony_vocab" / "_pins.py"] if (CORE_SRC / "harmony_vocab").is_dir() else []):
        if not path.is_file() or path.read_text("utf-8") != render_pins(manifest):
            path.write_text(render_pins(manifest), "utf-8")
    (package / "data").mkdir(parents=True, exist_ok=True)
    return [obtain(f, package / "data", environ, log)
            for entry in manifest["vocab"].values() if entry["wheel"] == wheel for f in entry["files"]]


def recompress(archive: Path, level: int = 9) -> None:
    """Rewrite a zip (the wheel) with every deflated member at zlib `level`, all else the same (names,
    order, timestamps, contents: RECORD holds, and it stays reproducible). Hatchling deflates at level 6."""
    part = archive.with_name(archive.name + ".part")
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(part, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info), compress_type=info.compress_type, compresslevel=level)
    os.replace(part, archive)


class VocabBuildHook(BuildHookInterface):  # type: ignore[misc,valid-type,type-arg,unused-ignore]
    """Hatchling hook: `prepare` before every wheel, sdist and editable build."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: Dict[str, Any]) -> None:
        wheel = self.config.get("wheel", "core")
        try:
            prepare(Path(self.root), wheel, os.environ, self.app.display_info)
        except BuildSetupError as exc:
            self.app.display_error(f"harmony-vocab build: {exc}")
            raise SystemExit(1) from None
        if self.target_name == "sdist":  # legacy/'s links go in as the files they name: an sdist has no ".."
            forced = {**build_data["force_include"], str(Path(self.root, MANIFEST)): MANIFEST}
            build_data["force_include"] = {os.path.realpath(k): v for k, v in forced.items()}
        if self.target_name == "wheel" and version == "editable" and wheel == "core":
            # the start-up files only: the shim is then imported from src/ (on sys.path through
            # hatchling's own .pth, which site reads first), so an edit needs no reinstall
            build_data["force_include_editable"] = {f"src/harmony_vocab.{ext}": f"harmony_vocab.{ext}"
                                                    for ext in ("pth", "start")}

    def finalize(self, version: str, build_data: Dict[str, Any], artifact_path: str) -> None:
        if self.target_name == "wheel" and version != "editable":
            recompress(Path(artifact_path))


if __name__ == "__main__":
    try:
        for placed in prepare(Path.cwd(), sys.argv[1] if len(sys.argv) > 1 else "core"):
            print(placed)
    except BuildSetupError as exc:
        sys.exit(f"harmony-vocab build: {exc}")
