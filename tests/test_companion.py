"""Every tiktoken encoding offline with the companion wheel (issue 14), on the real wheels, offline
(``unshare -n``, fresh HOME and TMPDIR, no TIKTOKEN_* variable), each claim with its control:

- tiktoken's own test suite (from its sdist) passes whole with the companion, on the oldest
  tiktoken of the ``[tiktoken]`` extra and on the newest; with the core alone it passes what
  tiktoken passes with only the core's files in its cache, the rest failing as without us;
- token ids for every encoding, and `encoding_for_model` for every model tiktoken knows, are
  tiktoken's own (its loader reading a cache seeded from the mirror);
- LangChain's ``TokenTextSplitter()`` (gpt2 by default) works offline;
- a tampered companion file is refused and the next tier serves; with no other copy tiktoken
  fails as without us;
- gpt2's ranks come from our ``data_gym_to_mergeable_bpe_ranks`` wrapper (``vocab.bpe`` alone),
  tiktoken's own function never running; a tampered ``encoder.json`` hands over to it;
- without the companion, its encodings pass through to tiktoken untouched;
- the commands accept the companion's names, its variables are honoured, ``doctor`` says which
  encodings each tool loads offline and names the command that adds the companion.

Venvs: the session's `full_venv` (core) and `companion_venv` (core + companion); the others are
copies of a venv made once, the wheels then installed into the copies by pip with no index.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tarfile
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

import pytest

from harmony_vocab.pins import PINS, VOCABS
from support import PYTHON, ROOT, SHARED_VOCAB, clean_env, offline, run, run_python, venv_python

pytestmark = pytest.mark.integration

BLOB_ROOT = "https://openaipublic.blob.core.windows.net/"
LEGACY = [name for name, pin in PINS.items() if pin.wheel == "legacy"]
CORE = [name for name, pin in PINS.items() if pin.wheel == "core"]
LEGACY_ENCODINGS = {e for name in LEGACY for e in PINS[name].encodings}
ALL_ENCODINGS = {e for pin in PINS.values() for e in pin.encodings}

TEXT = ("Hello, world! Grüß Gott, Zürich. Ça va? ¿Qué tal, señor? Привет, мир! Γειά σου κόσμε. "
        "こんにちは世界。你好，世界！안녕하세요 세계. مرحبا بالعالم. שלום עולם. नमस्ते दुनिया. "
        "สวัสดีชาวโลก 🌍🚀👩‍💻 x² ≠ √2 — “quotes” 12345 tab\there\n"
        "def f(x):\n    return  x  *  2        # indented\n<|endoftext|><|start|>user<|message|>hi<|end|>")


# ------------------------------------------------------------------------------ helpers

def mirror_file(url: str) -> Path:
    """The mirror's copy of the file at `url` (../shared/vocab: encodings/* at its top level,
    gpt2's files under gpt-2/encodings/main/)."""
    rel = url[len(BLOB_ROOT):]
    return SHARED_VOCAB / (rel[len("encodings/"):] if rel.startswith("encodings/") else rel)


def seed_tiktoken_cache(directory: Path, names: Iterable[str]) -> Path:
    """A tiktoken cache as tiktoken lays it out (the sha1 of the URL), from the mirror."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        for f in PINS[name].files:
            shutil.copyfile(mirror_file(f.urls[0]), directory / hashlib.sha1(f.urls[0].encode()).hexdigest())
    return directory


def copy_venv(source: Path, dest: Path, *install: str, index: bool = False) -> Path:
    """A copy of the venv `source`, then `install` pip-installed into it (with no index unless
    `index`). Run it as ``bin/python -m ...``: the copied console scripts still name `source`."""
    shutil.copytree(source, dest, symlinks=True)
    if install:
        run([venv_python(dest), "-m", "pip", "install", "-q", *([] if index else ["--no-index"]), *install])
    return dest


def mask(text: str) -> str:
    """An error's text minus what differs between runs (object addresses)."""
    return re.sub(r"0x[0-9a-fA-F]+", "0x?", text)


def hv(venv: Path, home: Path, *argv: str, code: Optional[int] = 0, **env: str) -> subprocess.CompletedProcess:
    """``python -m harmony_vocab ARGV`` in `venv`, offline, in a clean environment; check the exit code."""
    proc = run(offline([venv_python(venv), "-m", "harmony_vocab", *argv]), env=clean_env(home, **env), check=False)
    if code is not None:
        assert proc.returncode == code, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# Every encoding (or the given ones), through unmodified tiktoken ("tiktoken") or through
# harmony_vocab.tiktoken.tiktoken_encoding ("ours"): its name and the ids of TEXT, ordinary and with
# every special token allowed; or the exception it raised.
ENCODE = textwrap.dedent(
    """
    import json, re, sys
    import tiktoken

    def error(exc):
        return "error: " + re.sub(r"0x[0-9a-fA-F]+", "0x?", f"{type(exc).__module__}.{type(exc).__name__}: {exc}")

    def encode(text, via, names):
        if via == "ours":
            from harmony_vocab.tiktoken import tiktoken_encoding as get
        else:
            get = tiktoken.get_encoding
        out = {}
        for name in names or tiktoken.list_encoding_names():
            try:
                enc = get(name)
                out[name] = [enc.name, enc.encode(text, disallowed_special=()), enc.encode(text, allowed_special="all")]
            except Exception as exc:
                out[name] = error(exc)
        print(json.dumps(out))
    """
)


def encode(venv: Path, home: Path, via: str = "tiktoken", names: Iterable[str] = (), **env: str) -> Dict[str, Any]:
    proc = run_python(venv, home, ENCODE + f"encode({TEXT!r}, {via!r}, {list(names)!r})", **env)
    return json.loads(proc.stdout)


def reference(venv: Path, home: Path, names: Iterable[str] = ()) -> Dict[str, Any]:
    """tiktoken's own loader, harmony-vocab switched off, reading a cache seeded from the mirror."""
    cache = seed_tiktoken_cache(home / "tiktoken-cache", PINS)
    return encode(venv, home, names=names, HARMONY_VOCAB_AUTOREGISTER="0", TIKTOKEN_CACHE_DIR=str(cache))


def failed(result: Dict[str, Any]) -> Set[str]:
    return {k for k, v in result.items() if isinstance(v, str) and v.startswith("error: ")}


# ------------------------------------------------------------------------------ tiktoken's own suite

def oldest_tiktoken() -> str:
    """The lower bound of the ``[tiktoken]`` extra in pyproject.toml."""
    text = (ROOT / "pyproject.toml").read_text()
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib  # type: ignore[no-redef]
    (req,) = [r for r in tomllib.loads(text)["project"]["optional-dependencies"]["tiktoken"]
              if re.match(r"tiktoken\b", r)]
    found = re.fullmatch(r"tiktoken\s*>=\s*([0-9][0-9.]*)", req)
    assert found, f"the [tiktoken] extra gives no lower bound: {req!r}"
    return found.group(1)


def fetch_tiktoken_tests(version: str, dest: Path) -> Path:
    """tiktoken==`version`'s sdist, fetched with pip; its ``tests/`` package extracted into
    ``dest/tests`` (outside any tiktoken tree: ``import tiktoken`` is the installed one)."""
    download = dest / "sdist"
    run([PYTHON, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", f"tiktoken=={version}",
         "-d", download])
    (sdist,) = download.glob(f"tiktoken-{version}.tar.gz")
    prefix = f"tiktoken-{version}/tests/"
    out = dest / "tests"
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            rel = member.name[len(prefix):]
            if member.isfile() and member.name.startswith(prefix) and ".." not in Path(rel).parts:
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                (out / rel).write_bytes(tar.extractfile(member).read())  # type: ignore[union-attr]
    assert (out / "__init__.py").is_file(), f"tiktoken {version}'s sdist has no tests/ package"
    return out


class Suite:
    """tiktoken's suite of one tiktoken version, and three venvs holding that tiktoken, pytest and
    hypothesis: `bare` (no harmony-vocab), `core` (the core wheel), `full` (both wheels)."""

    def __init__(self, version: str, tests: Path, bare: Path, core: Path, full: Path, base: Path) -> None:
        self.version, self.tests, self.bare, self.core, self.full, self.base = version, tests, bare, core, full, base
        self.runs: Dict[str, Dict[str, Any]] = {}

    def run(self, name: str, venv: Path, cache: Optional[Iterable[str]] = None, **env: str) -> Dict[str, Any]:
        """The suite in `venv`, offline, fresh HOME/TMPDIR, no steering variable; `cache`: these
        vocabs in a TIKTOKEN_CACHE_DIR seeded from the mirror. ``{outcomes, messages, output}`` per
        test id ("test_file::test_name"), from its junit XML. Each run once per session."""
        if name in self.runs:
            return self.runs[name]
        home = self.base / f"home-{name}"
        if cache is not None:
            env["TIKTOKEN_CACHE_DIR"] = str(seed_tiktoken_cache(home / "tiktoken-cache", cache))
        environ = {k: v for k, v in clean_env(home, **env).items()
                   if not k.startswith(("PYTEST_", "HYPOTHESIS_", "PYTHONPATH"))}
        work, junit = home / "work", home / "junit.xml"
        work.mkdir()
        proc = run(offline([venv_python(venv), "-m", "pytest", self.tests, "-q", "-p", "no:cacheprovider",
                            f"--junitxml={junit}", "-o", "junit_family=xunit2", f"--rootdir={self.tests.parent}"]),
                   env=environ, cwd=work, check=False, timeout=1800)
        assert junit.is_file(), proc.stdout + proc.stderr
        outcomes, messages = {}, {}
        for case in ET.parse(junit).getroot().iter("testcase"):
            tid = f"{(case.get('classname') or '').rpartition('.')[2]}::{case.get('name')}"
            kinds = {child.tag: child for child in case}
            outcomes[tid] = next((k for k in ("failure", "error", "skipped") if k in kinds), "passed")
            for kind in ("failure", "error"):
                if kind in kinds:
                    messages[tid] = mask(kinds[kind].get("message") or "")
        assert outcomes, proc.stdout
        self.runs[name] = {"outcomes": outcomes, "messages": messages, "output": proc.stdout}
        return self.runs[name]


def passed(result: Dict[str, Any]) -> Set[str]:
    return {t for t, o in result["outcomes"].items() if o == "passed"}


def how(result: Dict[str, Any], test: str) -> Tuple[str, Optional[str]]:
    """How a test failed: the exception's type and the URL it names (tiktoken's download)."""
    message = result["messages"].get(test, "")
    url = re.search(r"url: (\S+)", message)
    return message.split(":", 1)[0], url.group(1) if url else None


@pytest.fixture(scope="module", params=["oldest", "newest"])
def suite(request: pytest.FixtureRequest, dist: Dict[str, Path], make_venv: Callable[..., Path],
          tmp_path_factory: pytest.TempPathFactory) -> Suite:
    """The oldest tiktoken of the extra, or the newest on the index, with its own sdist's suite."""
    requirement = f"tiktoken=={oldest_tiktoken()}" if request.param == "oldest" else "tiktoken"
    bare = make_venv(requirement, "pytest", "hypothesis")
    version = run([venv_python(bare), "-c", "import importlib.metadata as m; print(m.version('tiktoken'))"]).stdout.strip()
    if request.param == "oldest":
        assert version == oldest_tiktoken()
    base = tmp_path_factory.mktemp(f"tiktoken-{version}")
    core = copy_venv(bare, base / "core", str(dist["wheel"]))
    full = copy_venv(core, base / "full", str(dist["legacy_wheel"]))
    return Suite(version, fetch_tiktoken_tests(version, base / "suite"), bare, core, full, base)


@pytest.mark.slow
def test_tiktokens_own_suite_passes_whole_with_the_companion(suite: Suite) -> None:
    # The harness: tiktoken alone, every vocab in its own cache, offline: every test passes.
    seeded = suite.run("bare-seeded", suite.bare, cache=PINS)
    assert passed(seeded) == set(seeded["outcomes"]), seeded["output"]
    # With both wheels and an empty cache: the same, every vocab from the wheels.
    served = suite.run("full", suite.full)
    assert served["outcomes"] == seeded["outcomes"], served["output"]
    # Control: the same venv with harmony-vocab switched off is tiktoken without us, which fails
    # every test needing a vocab, the same way.
    off = suite.run("full-off", suite.full, HARMONY_VOCAB_AUTOREGISTER="0")
    without = suite.run("bare", suite.bare)
    assert off["outcomes"] == without["outcomes"]
    assert all(how(off, t) == how(without, t) for t in off["outcomes"])
    assert len(passed(without)) < len(passed(served))


@pytest.mark.slow
def test_tiktokens_own_suite_with_the_core_alone_fails_only_as_without_us(suite: Suite) -> None:
    # What tiktoken alone passes when only the core's files are in its cache ...
    core_cached = suite.run("bare-core-cached", suite.bare, cache=CORE)
    served = suite.run("core", suite.core)
    # ... the core wheel passes with an empty cache, and nothing else.
    assert passed(served) == passed(core_cached), served["output"]
    assert 0 < len(passed(served)) < len(served["outcomes"])
    # The others fail with the same exception as there: tiktoken's own download of a companion file.
    legacy_urls = {"/" + f.urls[0][len(BLOB_ROOT):] for name in LEGACY for f in PINS[name].files}
    for test in set(served["outcomes"]) - passed(served):
        assert served["outcomes"][test] == core_cached["outcomes"][test], test
        assert how(served, test) == how(core_cached, test), test
        assert how(served, test)[1] in legacy_urls, (test, served["messages"][test])
    # Control: switched off, the core wheel is as if absent.
    off = suite.run("core-off", suite.core, HARMONY_VOCAB_AUTOREGISTER="0")
    without = suite.run("bare", suite.bare)
    assert off["outcomes"] == without["outcomes"]
    assert all(how(off, t) == how(without, t) for t in off["outcomes"])


# ------------------------------------------------------------------------------ token ids, models

def test_token_ids_of_every_encoding_are_tiktokens_own(companion_venv: Path, tmp_path: Path) -> None:
    expected = reference(companion_venv, tmp_path / "reference")
    assert set(expected) == ALL_ENCODINGS and not failed(expected), expected
    # Unmodified tiktoken through the hook, empty cache.
    assert encode(companion_venv, tmp_path / "hook") == expected
    # harmony_vocab.tiktoken.tiktoken_encoding, the hook switched off.
    assert encode(companion_venv, tmp_path / "ours", "ours", HARMONY_VOCAB_AUTOREGISTER="0") == expected
    # Control: tiktoken alone, with an empty cache, loads none of them.
    assert failed(encode(companion_venv, tmp_path / "off", HARMONY_VOCAB_AUTOREGISTER="0")) == ALL_ENCODINGS


MODELS = textwrap.dedent(
    """
    import json, re, tiktoken, tiktoken.model as m
    out = {}
    # every model of the exact table, and one made of each prefix of the prefix table
    for model in [*m.MODEL_TO_ENCODING, *(p + "test" for p in m.MODEL_PREFIX_TO_ENCODING)]:
        try:
            enc = tiktoken.encoding_for_model(model)
            out[model] = [enc.name, enc.encode("Hello, world! Привет, мир!   x")]
        except Exception as exc:
            out[model] = "error: " + re.sub(r"0x[0-9a-fA-F]+", "0x?", f"{type(exc).__name__}: {exc}")
    print(json.dumps(out))
    """
)


def test_encoding_for_model_works_offline_for_every_model(companion_venv: Path, full_venv: Path,
                                                          tmp_path: Path) -> None:
    cache = seed_tiktoken_cache(tmp_path / "tiktoken-cache", PINS)
    expected = json.loads(run_python(companion_venv, tmp_path / "ref", MODELS, HARMONY_VOCAB_AUTOREGISTER="0",
                                     TIKTOKEN_CACHE_DIR=str(cache)).stdout)
    assert not failed(expected) and LEGACY_ENCODINGS <= {v[0] for v in expected.values()}
    assert json.loads(run_python(companion_venv, tmp_path / "served", MODELS).stdout) == expected
    # Control: with the core alone, exactly the models on the companion's vocabs fail, as without us.
    core = json.loads(run_python(full_venv, tmp_path / "core", MODELS).stdout)
    without = json.loads(run_python(full_venv, tmp_path / "off", MODELS, HARMONY_VOCAB_AUTOREGISTER="0").stdout)
    assert failed(core) == {m for m, v in expected.items() if v[0] in LEGACY_ENCODINGS}
    assert {m: core[m] for m in failed(core)} == {m: without[m] for m in failed(core)}
    assert {m: v for m, v in core.items() if m not in failed(core)} == \
        {m: v for m, v in expected.items() if m not in failed(core)}


# ------------------------------------------------------------------------------ LangChain

SPLIT = ("import json\nfrom langchain_text_splitters import TokenTextSplitter\n"
         f"print(json.dumps(TokenTextSplitter(chunk_size=16, chunk_overlap=4).split_text({TEXT.split('<|')[0]!r})))")


def test_langchain_token_text_splitter_default_works_offline(dist: Dict[str, Path], full_venv: Path,
                                                             tmp_path: Path) -> None:
    core = copy_venv(full_venv, tmp_path / "core", "langchain-text-splitters", index=True)
    both = copy_venv(core, tmp_path / "both", str(dist["legacy_wheel"]))
    cache = seed_tiktoken_cache(tmp_path / "tiktoken-cache", PINS)
    expected = run_python(both, tmp_path / "ref", SPLIT, HARMONY_VOCAB_AUTOREGISTER="0", TIKTOKEN_CACHE_DIR=str(cache))
    assert len(json.loads(expected.stdout)) > 1
    assert run_python(both, tmp_path / "served", SPLIT).stdout == expected.stdout
    # Control: with the core alone, it fails offline as without us.
    alone = run_python(core, tmp_path / "core-home", SPLIT, check=False)
    off = run_python(core, tmp_path / "off", SPLIT, check=False, HARMONY_VOCAB_AUTOREGISTER="0")
    assert alone.returncode == off.returncode != 0
    assert mask(alone.stderr.strip().splitlines()[-1]) == mask(off.stderr.strip().splitlines()[-1])
    assert "vocab.bpe" in alone.stderr


# ------------------------------------------------------------------------------ a tampered companion

R50K = ("import json, tiktoken\nfrom harmony_vocab import resolve\n"
        f"ids = tiktoken.get_encoding('r50k_base').encode({TEXT!r}, allowed_special='all')\n"
        "r = resolve('r50k_base')\n"
        "print(json.dumps([ids, r.tier, [[a.tier, a.outcome] for a in r.attempts]]))")


def test_a_tampered_companion_file_is_refused_and_the_next_tier_serves(companion_venv: Path,
                                                                        tmp_path: Path) -> None:
    venv = copy_venv(companion_venv, tmp_path / "venv")
    (bundled,) = venv.glob("lib/python*/site-packages/harmony_vocab_legacy/data/r50k_base.tiktoken")
    data = bytearray(bundled.read_bytes())
    data[len(data) // 2] ^= 0x01  # the same size, one byte off
    bundled.write_bytes(bytes(data))
    expected = reference(venv, tmp_path / "reference", ["r50k_base"])["r50k_base"][2]
    # A verified copy in our cache (a tier tiktoken itself never reads): served from there.
    ours = tmp_path / "ours"
    ours.mkdir()
    shutil.copyfile(SHARED_VOCAB / "r50k_base.tiktoken", ours / "r50k_base.tiktoken")
    ids, tier, attempts = json.loads(run_python(venv, tmp_path / "a", R50K, HARMONY_VOCAB_CACHE_DIR=str(ours)).stdout)
    assert ids == expected
    assert tier == "cache"
    assert any(t == "package" and "sha256" in outcome for t, outcome in attempts), attempts
    # Control: no other copy: tiktoken fails as without us, never given the bad bytes.
    alone = run_python(venv, tmp_path / "b", R50K, check=False)
    off = run_python(venv, tmp_path / "c", R50K, check=False, HARMONY_VOCAB_AUTOREGISTER="0")
    assert alone.returncode == off.returncode != 0
    assert mask(alone.stderr.strip().splitlines()[-1]) == mask(off.stderr.strip().splitlines()[-1])
    assert "r50k_base.tiktoken" in alone.stderr


# tiktoken.get_encoding("gpt2") with a spy on tiktoken.load.read_file_cached, through which tiktoken's
# own data_gym_to_mergeable_bpe_ranks reads both of gpt2's files: first line, the names the spy was
# asked for and whether that function is our wrapper; second line, the ids of TEXT.
GPT2 = textwrap.dedent(
    f"""
    import json, tiktoken, tiktoken.load as load
    asked, read = [], load.read_file_cached

    def spy(url, expected_hash=None):
        asked.append(url.rsplit("/", 1)[-1])
        return read(url, expected_hash)

    load.read_file_cached = spy
    try:
        ids = tiktoken.get_encoding("gpt2").encode({TEXT!r}, allowed_special="all")
    finally:
        print(json.dumps([asked, getattr(load.data_gym_to_mergeable_bpe_ranks, "__harmony_vocab__", False)]))
    print(json.dumps(ids))
    """
)


def gpt2(venv: Path, home: Path, check: bool = True, **env: str) -> Tuple[List[Any], subprocess.CompletedProcess]:
    proc = run_python(venv, home, GPT2, check=check, **env)
    return [json.loads(line) for line in proc.stdout.splitlines()], proc


def test_gpt2_is_served_by_the_data_gym_wrapper_and_a_tampered_encoder_json_is_not(companion_venv: Path,
                                                                                    tmp_path: Path) -> None:
    # tiktoken's own function, harmony-vocab off, reading its cache: it reads both files (the spy sees them).
    cache = seed_tiktoken_cache(tmp_path / "tiktoken-cache", ["gpt2"])
    (asked, ours), expected = gpt2(companion_venv, tmp_path / "own", HARMONY_VOCAB_AUTOREGISTER="0",
                                   TIKTOKEN_CACHE_DIR=str(cache))[0]
    assert (asked, ours) == (["vocab.bpe", "encoder.json"], False)
    # Through the hook, empty cache: our wrapper built the ranks, tiktoken's function read nothing.
    assert gpt2(companion_venv, tmp_path / "hook")[0] == [[[], True], expected]
    # encoder.json, which the wrapper never parses, one byte off: the vocab is refused, tiktoken's own
    # function runs (asking for vocab.bpe) and, with no other copy, fails offline as without us.
    venv = copy_venv(companion_venv, tmp_path / "venv")
    (encoder,) = venv.glob("lib/python*/site-packages/harmony_vocab_legacy/data/encoder.json")
    data = bytearray(encoder.read_bytes())
    data[len(data) // 2] ^= 0x01
    encoder.write_bytes(bytes(data))
    (alone,), failed_alone = gpt2(venv, tmp_path / "tampered", check=False)
    (off,), failed_off = gpt2(venv, tmp_path / "off", check=False, HARMONY_VOCAB_AUTOREGISTER="0")
    assert (alone, off) == ([["vocab.bpe"], True], [["vocab.bpe"], False])
    assert failed_alone.returncode == failed_off.returncode != 0
    assert mask(failed_alone.stderr.strip().splitlines()[-1]) == mask(failed_off.stderr.strip().splitlines()[-1])


def test_without_the_companion_its_encodings_pass_through_untouched(full_venv: Path, tmp_path: Path) -> None:
    names = sorted(LEGACY_ENCODINGS)
    with_us = encode(full_venv, tmp_path / "a", names=names)
    without = encode(full_venv, tmp_path / "b", names=names, HARMONY_VOCAB_AUTOREGISTER="0")
    assert failed(with_us) == set(names)
    assert with_us == without
    # harmony_vocab's own builder names the command that adds them.
    ours = encode(full_venv, tmp_path / "c", "ours", names=names)
    assert failed(ours) == set(names)
    assert all("pip install 'harmony-vocab[legacy]'" in ours[n] for n in names), ours


# ------------------------------------------------------------------------------ the commands

def test_resolve_path_verify_accept_the_companions_names(companion_venv: Path, tmp_path: Path) -> None:
    (data,) = companion_venv.glob("lib/python*/site-packages/harmony_vocab_legacy/data")
    for name in LEGACY:
        files = [data / f.name for f in PINS[name].files]
        result = json.loads(hv(companion_venv, tmp_path, "resolve", name, "--json").stdout)
        assert (result["ok"], result["tier"], result["paths"]) == (True, "package", list(map(str, files)))
        printed = hv(companion_venv, tmp_path, "path", name).stdout.splitlines()
        assert printed == list(map(str, files))
        assert [sha256(Path(p)) for p in printed] == [sha256(mirror_file(f.urls[0])) for f in PINS[name].files]
    checks = json.loads(hv(companion_venv, tmp_path, "verify", "--json").stdout)
    assert checks["ok"] and {c["name"] for c in checks["checks"] if c["status"] == "ok"} == set(PINS)
    # Control: a companion file changed is reported by verify.
    venv = copy_venv(companion_venv, tmp_path / "venv")
    (gpt2_json,) = venv.glob("lib/python*/site-packages/harmony_vocab_legacy/data/encoder.json")
    gpt2_json.write_bytes(gpt2_json.read_bytes().replace(b'"!"', b'"?"', 1))
    checks = json.loads(hv(venv, tmp_path, "verify", "--name", "gpt2", "--json", code=1).stdout)
    assert [c["path"] for c in checks["checks"] if c["status"] == "failed"] == [str(gpt2_json)]


def test_export_both_layouts_serve_a_core_only_install(companion_venv: Path, full_venv: Path, tmp_path: Path) -> None:
    flat, nested = tmp_path / "flat", tmp_path / "model"
    hv(companion_venv, tmp_path, "export", str(flat))
    hv(companion_venv, tmp_path, "export", str(nested), "--layout", "encodings")
    for directory in (flat, nested / "encodings"):
        sums = (directory / "SHA256SUMS").read_text()
        for pin in PINS.values():
            for f in pin.files:
                assert sha256(directory / f.name) == f.sha256 == sha256(mirror_file(f.urls[0]))
                assert f"{f.sha256}  {f.name}\n" in sums
    # Control: the core alone has no gpt2; the exported model directory, and the flat export
    # named by the variables, give it one.
    failure = hv(full_venv, tmp_path, "resolve", "gpt2", code=1)
    assert "pip install 'harmony-vocab[legacy]'" in failure.stdout + failure.stderr
    for name in LEGACY:
        result = json.loads(hv(full_venv, tmp_path, "resolve", name, "--model-dir", str(nested), "--json").stdout)
        assert result["tier"] == "model"
        assert result["paths"] == [str(nested / "encodings" / f.name) for f in PINS[name].files]


def test_the_companions_variables_are_honoured(full_venv: Path, companion_venv: Path, tmp_path: Path) -> None:
    r50k = tmp_path / "any-name.bin"
    shutil.copyfile(SHARED_VOCAB / "r50k_base.tiktoken", r50k)
    gpt2 = tmp_path / "gpt2"
    gpt2.mkdir()
    for f in PINS["gpt2"].files:
        shutil.copyfile(mirror_file(f.urls[0]), gpt2 / f.name)
    env = {"HARMONY_VOCAB_R50K_BASE": str(r50k), "HARMONY_VOCAB_GPT2": str(gpt2)}
    for venv in (full_venv, companion_venv):  # without the companion, and before its package tier
        result = json.loads(hv(venv, tmp_path, "resolve", "r50k_base", "--json", **env).stdout)
        assert (result["tier"], result["paths"]) == ("environment", [str(r50k)])
        result = json.loads(hv(venv, tmp_path, "resolve", "gpt2", "--json", **env).stdout)
        assert (result["tier"], result["paths"]) == ("environment", [str(gpt2 / "vocab.bpe"), str(gpt2 / "encoder.json")])
    # Control: unset, the core alone finds neither.
    for name in ("r50k_base", "gpt2"):
        assert json.loads(hv(full_venv, tmp_path, "resolve", name, "--json", code=1).stdout)["ok"] is False


def test_seed_cache_gives_tiktoken_alone_every_encoding(companion_venv: Path, tmp_path: Path) -> None:
    cache = tmp_path / "tiktoken-cache"
    hv(companion_venv, tmp_path, "seed-cache", "--tiktoken", str(cache))
    assert sorted(p.name for p in cache.iterdir()) == sorted(f.cache_key for pin in PINS.values() for f in pin.files)
    expected = reference(companion_venv, tmp_path / "reference")
    # tiktoken's own loader, harmony-vocab switched off, reads what seed-cache wrote.
    assert encode(companion_venv, tmp_path / "seeded", HARMONY_VOCAB_AUTOREGISTER="0",
                  TIKTOKEN_CACHE_DIR=str(cache)) == expected
    # (Control: tiktoken alone with an empty cache loads none: test_token_ids_of_every_encoding...)


# Starts a server on 127.0.0.1 in this network namespace serving DIR by file name, runs
# `python -m harmony_vocab ARGV` against it (HARMONY_VOCAB_BASE_URL), prints what was asked for.
FETCH_DRIVER = textwrap.dedent(
    """
    import functools, http.server, json, os, subprocess, sys, threading
    directory, python, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    asked = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, fmt, *args):
            asked.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=directory))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ, HARMONY_VOCAB_BASE_URL=f"http://127.0.0.1:{server.server_address[1]}/")
    proc = subprocess.run([python, "-m", "harmony_vocab", *argv], env=env, capture_output=True, text=True)
    print(json.dumps({"code": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr, "asked": asked}))
    """
)


def test_fetch_downloads_the_companions_files_from_a_mirror(full_venv: Path, tmp_path: Path) -> None:
    served = tmp_path / "mirror"
    served.mkdir()
    for name in LEGACY:
        for f in PINS[name].files:
            (served / f.name).symlink_to(mirror_file(f.urls[0]))
    cache = tmp_path / "cache"
    env = clean_env(tmp_path, HARMONY_VOCAB_CACHE_DIR=str(cache))
    # Control: the core alone, before the fetch, has none of them.
    for name in LEGACY:
        hv(full_venv, tmp_path, "resolve", name, code=1, HARMONY_VOCAB_CACHE_DIR=str(cache))
    argv = [x for name in LEGACY for x in ("--name", name)]
    driver = tmp_path / "driver.py"
    driver.write_text(FETCH_DRIVER)
    out = json.loads(run(offline([PYTHON, driver, served, venv_python(full_venv), "fetch", *argv]), env=env).stdout)
    assert out["code"] == 0, out
    files = [f for name in LEGACY for f in PINS[name].files]
    assert out["stdout"].splitlines() == [str(cache / f.name) for f in files]
    assert sorted(out["asked"]) == sorted("/" + f.name for f in files)
    for name in LEGACY:
        result = json.loads(hv(full_venv, tmp_path, "resolve", name, "--json", HARMONY_VOCAB_CACHE_DIR=str(cache)).stdout)
        assert (result["tier"], result["paths"]) == ("cache", [str(cache / f.name) for f in PINS[name].files])


def doctor_offline_encodings(venv: Path, home: Path) -> Tuple[Set[str], str]:
    """The tiktoken encodings ``doctor --json`` says unmodified tiktoken loads offline, and the text."""
    report = json.loads(hv(venv, home, "doctor", "--json").stdout)
    text = hv(venv, home, "doctor").stdout
    said = set()
    for name, entry in report["vocabs"].items():
        if entry["tiktoken"]["status"] == "offline":
            assert all(e in entry["tiktoken"]["detail"] for e in PINS[name].encodings), entry
            said |= set(PINS[name].encodings)
    return said, text


def test_doctor_says_which_encodings_load_offline_and_how_to_add_the_rest(
        companion_venv: Path, full_venv: Path, tmp_path: Path) -> None:
    said, text = doctor_offline_encodings(companion_venv, tmp_path / "both")
    assert said == ALL_ENCODINGS and "harmony-vocab[legacy]" not in text
    assert not failed(encode(companion_venv, tmp_path / "both-real", names=sorted(said)))
    # Without the companion: only the core's, true of unmodified tiktoken, and the command that adds it.
    said, text = doctor_offline_encodings(full_venv, tmp_path / "core")
    assert said == ALL_ENCODINGS - LEGACY_ENCODINGS
    real = encode(full_venv, tmp_path / "core-real", names=sorted(ALL_ENCODINGS))
    assert failed(real) == LEGACY_ENCODINGS
    for name in LEGACY:
        line = next(ln for ln in text.splitlines() if ln.split()[:1] == [name])
        assert "pip install 'harmony-vocab[legacy]'" in line, text


@pytest.mark.parametrize("argv", [["resolve", "r50k"], ["path", "gpt-2"], ["verify", "--name", "p50k"],
                                  ["export", "DEST", "--name", "gpt3"], ["seed-cache", "--name", "p50k"],
                                  ["fetch", "--name", "r50k"]])
def test_an_unknown_name_lists_the_known_ones(companion_venv: Path, tmp_path: Path, argv: List[str]) -> None:
    proc = hv(companion_venv, tmp_path, *argv, code=2)
    assert proc.stdout == ""
    assert f"unknown vocab name {argv[-1]!r}: expected one of " + ", ".join(VOCABS) in proc.stderr
