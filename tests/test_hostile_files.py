"""Issue 10 items 1, 3, 4, 5: every file harmony-vocab reads is a regular file, opened so that a
FIFO or a device cannot block it, and read with a bound; a tokenizer.json cannot blow up (size,
values, nesting) and a rejected one is parsed once. On the installed wheel, each command in a
subprocess with a time-out (a hang fails the test, no elapsed time is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

import harmony_vocab.tokenizer_json as tj
from harmony_vocab.errors import VocabError, VocabWarning
from harmony_vocab.lookup import resolve
from harmony_vocab.pins import PINS
from harmony_vocab.tokenizer_json import MAX_BYTES, MAX_ITEMS, TokenizerJsonError, rebuild
from support import HUB_COMMIT, HUB_REPOS, SHARED_VOCAB, HubCache, clean_env, to_tokenizer_json

O200K = PINS["o200k_base"]
KINDS = {
    "fifo": "is a FIFO (named pipe), expected a regular file",
    "zero": "is a character device (a symlink to /dev/zero), expected a regular file",
}
DEEP = "[" * 200_000 + "]" * 200_000
TIMEOUT = 60


def make_special(path: Path, kind: str) -> Path:
    """A FIFO nobody writes to, or a symlink to /dev/zero, at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    else:
        os.symlink("/dev/zero", path)
    return path


def hv(venv: Path, home: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    """The installed command in a clean environment, killed (and the test failed) if it hangs."""
    return subprocess.run([str(venv / "bin" / "harmony-vocab"), *argv], env=clean_env(home, **env),
                          capture_output=True, text=True, timeout=TIMEOUT)


def lines(text: str) -> List[str]:
    return text.splitlines()


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr, proc.stderr


# ------------------------------------------------------------------ FIFOs and /dev/zero, everywhere

@pytest.mark.integration
@pytest.mark.parametrize("kind", KINDS)
def test_explicit_path(wheel_venv: Path, tmp_path: Path, kind: str) -> None:
    bad = make_special(tmp_path / "given.tiktoken", kind)
    proc = hv(wheel_venv, tmp_path, "resolve", "o200k_base", "--vocab-path", str(bad))
    assert proc.returncode == 1
    assert lines(proc.stderr) == [f"harmony-vocab: error: vocab_path={bad}: {KINDS[kind]}"]


@pytest.mark.integration
@pytest.mark.parametrize("kind", KINDS)
def test_explicit_directory_and_env_dir(wheel_venv: Path, tmp_path: Path, kind: str) -> None:
    bad = make_special(tmp_path / "d" / O200K.file, kind)
    proc = hv(wheel_venv, tmp_path, "resolve", "o200k_base", "--vocab-dir", str(bad.parent))
    assert proc.returncode == 1
    assert lines(proc.stderr) == [f"harmony-vocab: error: vocab_dir: {bad}: {KINDS[kind]}"]
    proc = hv(wheel_venv, tmp_path, "env", "--dir", str(bad.parent))
    assert proc.returncode == 1 and proc.stdout == ""
    (line,) = lines(proc.stderr)
    assert line.startswith(f"harmony-vocab: error: {bad}: {KINDS[kind]}; ") and "harmony-vocab export" in line


@pytest.mark.integration
@pytest.mark.parametrize("kind", KINDS)
def test_hub_cache_refs_main(wheel_venv: Path, tmp_path: Path, kind: str) -> None:
    """A repo id's refs/main that is a FIFO or /dev/zero: passed over, at start-up (the .pth runs
    for every interpreter) and in the lookup; the snapshots are still searched."""
    repo = tmp_path / "hub" / "models--org--name"
    make_special(repo / "refs" / "main", kind)
    snapshot = repo / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / O200K.file).write_bytes((SHARED_VOCAB / O200K.file).read_bytes())
    env = dict(HF_HUB_CACHE=str(tmp_path / "hub"), HARMONY_VOCAB_MODEL_DIR="org/name")
    proc = hv(wheel_venv, tmp_path, "path", "o200k_base", **env)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"{snapshot / O200K.file}\n", "")


@pytest.mark.integration
@pytest.mark.parametrize("kind", KINDS)
def test_explicit_path_through_the_api(wheel_venv: Path, tmp_path: Path, kind: str) -> None:
    bad = make_special(tmp_path / "given.tiktoken", kind)
    code = ("import harmony_vocab, sys\n"
            "try:\n    harmony_vocab.resolve('o200k_base', vocab_path=sys.argv[1])\n"
            "except harmony_vocab.VocabError as exc:\n    print(isinstance(exc, OSError), exc)\n")
    proc = subprocess.run([str(wheel_venv / "bin" / "python"), "-c", code, str(bad)], env=clean_env(tmp_path),
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.stdout.startswith("True ") and f"[explicit] vocab_path={bad}: {KINDS[kind]}\n" in proc.stdout, \
        proc.stderr


@pytest.mark.integration
@pytest.mark.parametrize("kind", KINDS)
def test_environment_variables(wheel_venv: Path, tmp_path: Path, kind: str) -> None:
    """HARMONY_VOCAB_O200K_BASE and TIKTOKEN_ENCODINGS_BASE: warned about, the bundled copy used."""
    bad = make_special(tmp_path / "env" / O200K.file, kind)
    bundled = hv(wheel_venv, tmp_path, "path", "o200k_base", "--bundled").stdout
    proc = hv(wheel_venv, tmp_path, "path", "o200k_base", HARMONY_VOCAB_O200K_BASE=str(bad))
    assert (proc.returncode, proc.stdout) == (0, bundled)
    assert lines(proc.stderr) == [f"harmony-vocab: ignoring HARMONY_VOCAB_O200K_BASE={bad} for o200k_base: "
                                  f"{KINDS[kind]}"]
    proc = hv(wheel_venv, tmp_path, "path", "o200k_base", TIKTOKEN_ENCODINGS_BASE=str(bad.parent))
    assert (proc.returncode, proc.stdout) == (0, bundled)
    assert lines(proc.stderr) == [f"harmony-vocab: ignoring TIKTOKEN_ENCODINGS_BASE={bad.parent} for o200k_base: "
                                  f"{KINDS[kind]}"]


@pytest.mark.integration
@pytest.mark.parametrize("kind", KINDS)
def test_model_directory(wheel_venv: Path, tmp_path: Path, kind: str) -> None:
    """A model directory's o200k_base.tiktoken and tokenizer.json: warned about, never read."""
    model = tmp_path / "model"
    vocab = make_special(model / O200K.file, kind)
    tokenizer = make_special(model / "original" / "tokenizer.json", kind)
    bundled = hv(wheel_venv, tmp_path, "path", "o200k_base", "--bundled").stdout
    proc = hv(wheel_venv, tmp_path, "path", "o200k_base", HARMONY_VOCAB_MODEL_DIR=str(model))
    assert (proc.returncode, proc.stdout) == (0, bundled)
    assert lines(proc.stderr) == [f"harmony-vocab: ignoring {vocab} for o200k_base: {KINDS[kind]}",
                                  f"harmony-vocab: {tokenizer}: {KINDS[kind]}"]
    proc = hv(wheel_venv, tmp_path, "verify", str(model / "original"))
    assert proc.returncode == 1
    (line,) = lines(proc.stderr)
    assert line.startswith("harmony-vocab: error: 2 of 2 checked failed, "  # one per vocab
                           f"first {tokenizer}: {KINDS[kind]}; ")


@pytest.mark.integration
@pytest.mark.parametrize("kind", KINDS)
def test_caches(dist: Dict[str, Path], make_venv: Callable[..., Path], tmp_path: Path, kind: str) -> None:
    """Our cache, openai-harmony's and tiktoken's: with no bundled copy the lookup reaches them;
    each is reported, none blocks."""
    venv = make_venv(str(dist["wheel"]))
    for data in venv.glob("lib/python*/site-packages/harmony_vocab/data/*.tiktoken"):
        data.unlink()
    ours = make_special(tmp_path / "ours" / O200K.file, kind)
    harmony = make_special(tmp_path / "rs" / O200K.cache_key, kind)
    tiktoken = make_special(tmp_path / "gym" / O200K.cache_key, kind)
    env = dict(HARMONY_VOCAB_CACHE_DIR=str(ours.parent), TIKTOKEN_RS_CACHE_DIR=str(harmony.parent),
               TIKTOKEN_CACHE_DIR=str(tiktoken.parent))
    proc = hv(venv, tmp_path, "resolve", "o200k_base", **env)
    assert proc.returncode == 1
    for path in (ours, harmony, tiktoken):
        assert f"[cache] {path}: {KINDS[kind]}" in proc.stdout  # the trace
    no_traceback(proc)
    proc = hv(venv, tmp_path, "verify", "--name", "o200k_base", **env)
    assert proc.returncode == 1
    for path in (ours, harmony, tiktoken):
        assert f"FAILED  o200k_base   [cache] {path}: {KINDS[kind]}" in lines(proc.stdout)


@pytest.mark.integration
@pytest.mark.parametrize("kind", KINDS)
def test_verify(wheel_venv: Path, tmp_path: Path, kind: str) -> None:
    """Items 3 and 4: `verify` of a FIFO or /dev/zero, as a vocab file or a tokenizer.json."""
    for bad in (make_special(tmp_path / O200K.file, kind), make_special(tmp_path / "m" / "tokenizer.json", kind)):
        proc = hv(wheel_venv, tmp_path, "verify", str(bad))
        assert proc.returncode == 1
        (line,) = lines(proc.stderr)
        assert line.startswith(f"harmony-vocab: error: 1 of 1 checked failed, first {bad}: {KINDS[kind]}; ")
        assert "harmony-vocab export DIR" in line


@pytest.mark.integration
@pytest.mark.parametrize("kind", KINDS)
def test_export_destination(wheel_venv: Path, tmp_path: Path, kind: str) -> None:
    """A FIFO or /dev/zero at the destination (a vocab file or SHA256SUMS) is a conflict: refused,
    nothing written; with --force replaced by a real file."""
    dest = tmp_path / "dest"
    target = make_special(dest / O200K.file, kind)
    sums = make_special(dest / "SHA256SUMS", kind)
    proc = hv(wheel_venv, tmp_path, "export", str(dest), "--name", "o200k_base")
    assert proc.returncode == 1 and proc.stdout == ""
    (line,) = lines(proc.stderr)
    assert line.startswith("harmony-vocab: error: refusing to replace 2 file(s) that are not a real copy of the "
                           f"pinned vocab: {sums} (")
    assert f"; {target} (" in line and "--force" in line
    assert sorted(p.name for p in dest.iterdir()) == ["SHA256SUMS", O200K.file]
    proc = hv(wheel_venv, tmp_path, "export", str(dest), "--name", "o200k_base", "--force")
    assert proc.returncode == 0, proc.stderr
    assert not target.is_symlink() and target.read_bytes() == (SHARED_VOCAB / O200K.file).read_bytes()
    assert sums.read_text() == f"{O200K.sha256}  {O200K.file}\n"


@pytest.mark.integration
@pytest.mark.parametrize("kind", KINDS)
def test_seed_cache_target(wheel_venv: Path, tmp_path: Path, kind: str) -> None:
    """A FIFO or /dev/zero where a cache copy goes is replaced by a verified file."""
    target = make_special(tmp_path / "gym" / O200K.cache_key, kind)
    proc = hv(wheel_venv, tmp_path, "seed-cache", "--tiktoken", str(target.parent), "--name", "o200k_base")
    assert (proc.returncode, proc.stderr) == (0, "")
    assert not target.is_symlink() and target.read_bytes() == (SHARED_VOCAB / O200K.file).read_bytes()


# ------------------------------------------------------------------ tokenizer.json

@pytest.mark.integration
def test_deeply_nested_tokenizer_json_in_every_command(wheel_venv: Path, tmp_path: Path) -> None:
    """Item 1: a tokenizer.json nested 200,000 deep is one clear line in every command, never a
    RecursionError; the bundled copy still serves."""
    model = tmp_path / "model"
    model.mkdir()
    tokenizer = model / "tokenizer.json"
    tokenizer.write_text(DEEP)
    why = f"{tokenizer} is nested too deeply to be a tokenizer.json (a real one is nested 4 levels deep)"
    env = dict(HARMONY_VOCAB_MODEL_DIR=str(model))
    proc = hv(wheel_venv, tmp_path, "resolve", "o200k_base", **env)
    assert proc.returncode == 0 and f"rebuilt vocab rejected: {why}" in proc.stdout
    assert lines(proc.stderr) == []  # the trace says it (warnings are for the other commands)
    for argv in (["path", "o200k_base"], ["export", str(tmp_path / "out")],
                 ["seed-cache", "--tiktoken", str(tmp_path / "gym")]):
        proc = hv(wheel_venv, tmp_path, *argv, **env)
        assert proc.returncode == 0, proc.stderr
        assert lines(proc.stderr) == [f"harmony-vocab: {why}"], argv  # once for both vocabs
    for argv in (["verify"], ["verify", str(model)], ["doctor"]):
        proc = hv(wheel_venv, tmp_path, *argv, **env)
        no_traceback(proc)
        assert f"{tokenizer}: is nested too deeply" in proc.stdout or why in proc.stdout, argv
        assert proc.returncode == (0 if argv == ["doctor"] else 1), proc.stderr


def test_deeply_nested_tokenizer_json_through_the_api(world: Any) -> None:
    path = world.base / "m" / "tokenizer.json"
    path.parent.mkdir(parents=True)
    path.write_text(DEEP)
    with pytest.raises(TokenizerJsonError, match="nested too deeply") as info:
        rebuild(path, world.pin)
    assert isinstance(info.value, VocabError)
    world.place("package")
    with pytest.warns(VocabWarning, match="nested too deeply"):
        assert resolve(world.name, model_dir=path.parent).tier == "package"


def test_oversized_tokenizer_json_is_refused_unread(world: Any) -> None:
    """Item 5: a file over MAX_BYTES (sparse: no disk used) is refused from its size alone."""
    path = world.base / "m" / "tokenizer.json"
    path.parent.mkdir(parents=True)
    with open(path, "wb") as f:
        f.truncate(MAX_BYTES + 1)
    with pytest.raises(TokenizerJsonError) as info:
        rebuild(path, world.pin)
    assert str(info.value) == (f"{path} is more than the {MAX_BYTES} bytes a tokenizer.json may be "
                               f"(o200k_base's is about 28 MB): not a tokenizer.json of a pinned vocab")


def child_peak(python: str, script: str, *args: str, env: Dict[str, str]) -> Dict[str, Any]:
    """Run `script` in a new interpreter; it fills `_out`, printed as JSON with its peak RSS (MB)."""
    # VmHWM: this process's own peak (ru_maxrss would include the parent's at fork time).
    tail = ("\nimport json as _j, re as _re\n"
            "_out['peak_mb'] = int(_re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]) // 1024\n"
            "print(_j.dumps(_out))\n")
    proc = subprocess.run([python, "-c", "_out = {}\n" + script + tail, *args], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])  # type: ignore[no-any-return]


RESOLVE_FROM_MODEL = """
import sys, warnings, harmony_vocab
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    _out["tier"] = harmony_vocab.resolve("o200k_base", model_dir=sys.argv[1]).tier
_out["warnings"] = [str(w.message) for w in caught]
"""


@pytest.mark.integration
def test_many_tiny_values_are_refused_before_parsing(wheel_venv: Path, tmp_path: Path) -> None:
    """Item 5: `[{},{},...]` under the size cap but with more values than MAX_ITEMS is refused
    before parsing, in bounded memory. The control: parsing the same file, as the package did
    before, costs several times more."""
    model = tmp_path / "model"
    model.mkdir()
    tokenizer = model / "tokenizer.json"
    count = MAX_ITEMS // 2 + 1  # "{}," is two values' worth: a comma and a bracket
    tokenizer.write_text("[" + "{}," * count + "{}]")
    assert tokenizer.stat().st_size < MAX_BYTES
    python = str(wheel_venv / "bin" / "python")
    env = clean_env(tmp_path)
    report = child_peak(python, RESOLVE_FROM_MODEL, str(model), env=env)
    assert report["tier"] == "package"
    assert report["warnings"] == [f"harmony-vocab: {tokenizer} holds up to {2 * count + 2} JSON values, more "
                                  f"than the {MAX_ITEMS} a tokenizer.json may (o200k_base's holds about 1.8 "
                                  f"million): not a tokenizer.json of a pinned vocab"]
    control = child_peak(python, "import json, sys\njson.load(open(sys.argv[1], 'rb'))\n", str(tokenizer), env=env)
    assert report["peak_mb"] * 3 < control["peak_mb"], (report, control)


def test_a_rejection_is_parsed_once_per_process_and_warned_once(
        world: Any, synthetic: Dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 5: `register()` (every vocab) twice, and resolve again: one parse, one warning."""
    from harmony_vocab.openai_harmony import register

    for pin, data in synthetic.values():
        (world.package / pin.file).write_bytes(data)
    for var in ("TIKTOKEN_ENCODINGS_BASE", "HARMONY_VOCAB_REGISTERED"):  # restored after the test
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    model = world.base / "model"
    model.mkdir(parents=True)
    (model / "tokenizer.json").write_text('{"model": {"type": "Unigram", "vocab": []}}')
    parses: List[Path] = []
    real_load = tj.load
    monkeypatch.setattr(tj, "load", lambda path: parses.append(Path(path)) or real_load(path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        register(model_dir=model)
        register(model_dir=model)
        resolve(world.name, model_dir=model)
    assert parses == [model / "tokenizer.json"]
    assert [str(w.message) for w in caught if issubclass(w.category, VocabWarning)] == [
        f"harmony-vocab: {model / 'tokenizer.json'}: expected a BPE model with a 'vocab' object"]


@pytest.mark.integration
def test_a_rejection_is_remembered_across_processes(wheel_venv: Path, tmp_path: Path) -> None:
    """Item 5: the next process does not parse the rejected file again (its parse would cost the
    control's memory), and still says why; a changed file is parsed anew."""
    model = tmp_path / "model"
    model.mkdir()
    tokenizer = model / "tokenizer.json"
    tokenizer.write_text('{"model": {"type": "BPE", "vocab": {}}, "pad": "' + "x" * (40 << 20) + '"}')
    python = str(wheel_venv / "bin" / "python")
    env = clean_env(tmp_path)
    first = child_peak(python, RESOLVE_FROM_MODEL, str(model), env=env)
    second = child_peak(python, RESOLVE_FROM_MODEL, str(model), env=env)
    why = f"harmony-vocab: {tokenizer}: {O200K.ranks} of the {O200K.ranks} ranks of o200k_base are missing"
    for report in (first, second):
        assert report["tier"] == "package" and len(report["warnings"]) == 1
        assert report["warnings"][0].startswith(why)
    assert second["peak_mb"] * 2 < first["peak_mb"], (first, second)
    with open(tokenizer, "a") as f:  # the rejection is keyed by the content: new content, new parse
        f.write(" ")
    third = child_peak(python, RESOLVE_FROM_MODEL, str(model), env=env)
    assert third["peak_mb"] * 2 > first["peak_mb"], (first, third)


@pytest.mark.integration
def test_real_tokenizer_json_is_well_inside_the_caps(hf_hub: HubCache) -> None:
    """The caps are well above the real thing: transformers' tokenizer.json of o200k_base, the
    largest pinned vocab, is under half of each, and rebuilds."""
    path = hf_hub.snapshot(HUB_REPOS["o200k_base"], HUB_COMMIT) / "tokenizer.json"
    data = path.read_bytes()
    assert 2 * len(data) < MAX_BYTES
    assert 2 * sum(map(data.count, b",:[{")) < MAX_ITEMS
    assert rebuild(path, O200K) == (SHARED_VOCAB / O200K.file).read_bytes()


def test_to_tokenizer_json_helper_round_trips(world: Any) -> None:
    """The synthetic tokenizer.json the tests use rebuilds to the pin (so rejections above are
    the file's fault, not the helper's)."""
    path = world.base / "ok" / "tokenizer.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(to_tokenizer_json(world.data)))
    assert rebuild(path, world.pin) == world.data


# ------------------------------------------------------------------ symlink loops

LOOP = "unreadable: Too many levels of symbolic links"


def test_symlink_loops_are_passed_over_with_one_line_each(world: Any) -> None:
    """A symlink loop as HARMONY_VOCAB_O200K_BASE, as a model directory's vocab and tokenizer.json,
    and as the model directory itself: each is one warning naming it, the lookup goes on to the
    package's copy; given explicitly, it is an error saying the same."""
    base = world.base
    os.symlink("self-loop", base / "self-loop")
    model = base / "model"
    (model / "original").mkdir(parents=True)
    os.symlink("b", model / world.pin.file)
    os.symlink(world.pin.file, model / "b")
    os.symlink(base / "self-loop", model / "original" / "tokenizer.json")
    world.place("package")
    world.mp.setenv("HARMONY_VOCAB_O200K_BASE", str(base / "self-loop"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = resolve(world.name, model_dir=model)
    assert r.tier == "package"
    assert [str(w.message) for w in caught] == [
        f"harmony-vocab: ignoring HARMONY_VOCAB_O200K_BASE={base / 'self-loop'} for {world.name}: {LOOP}",
        f"harmony-vocab: ignoring {model / world.pin.file} for {world.name}: {LOOP}",
        f"harmony-vocab: {model / 'original' / 'tokenizer.json'}: {LOOP}"]
    world.mp.delenv("HARMONY_VOCAB_O200K_BASE")
    os.symlink("loop-dir", base / "loop-dir")
    with pytest.warns(VocabWarning, match="not a directory"):
        assert resolve(world.name, model_dir=base / "loop-dir").tier == "package"
    with pytest.raises(VocabError, match="Too many levels of symbolic links") as info:
        resolve(world.name, vocab_path=base / "self-loop")
    assert isinstance(info.value, FileNotFoundError)


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("FIFOs, /dev/zero and flock as on Linux")
