"""The installed wheel next to the real openai-harmony and tiktoken, with no network (issue 3)."""

from __future__ import annotations

import os
import shutil
import textwrap
import zipfile
from pathlib import Path
from typing import Callable, Dict

import pytest

from harmony_vocab.pins import PINS
from support import ROOT, SHARED_VOCAB, clean_env, offline, run, venv_python
from support import run_python as python

pytestmark = pytest.mark.integration

RENDER = textwrap.dedent(
    """
    from openai_harmony import (Conversation, HarmonyEncodingName, Message, Role, SystemContent,
                                load_harmony_encoding)

    enc = load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)
    convo = Conversation.from_messages([
        Message.from_role_and_content(Role.SYSTEM, SystemContent.new()),
        Message.from_role_and_content(Role.USER, "What is 2 + 2? Réponds en français, 日本語も."),
    ])
    prompt = enc.render_conversation_for_completion(convo, Role.ASSISTANT)
    assert enc.decode_utf8(prompt).endswith("<|start|>assistant")
    completion = enc.encode("<|channel|>final<|message|>Quatre: 4<|return|>", allowed_special="all")
    (message,) = enc.parse_messages_from_completion_tokens(completion, Role.ASSISTANT)
    assert message.content[0].text == "Quatre: 4", message
    print("parsed:", message.content[0].text)
    """
)

CORPUS = (
    "Hello, world! Réponds en français. 日本語のテキスト。 Ελληνικά και русский текст. "
    "العربية 😀🚀 code: def f(x): return x**2\n\n\tindented   spaces 12345678 <|endoftext|>"
)


def test_unmodified_openai_harmony_works_offline_with_no_variable_set(full_venv: Path, tmp_path: Path) -> None:
    out = python(full_venv, tmp_path, RENDER).stdout
    assert "parsed: Quatre: 4" in out


def test_without_the_registration_openai_harmony_fails_offline(full_venv: Path, tmp_path: Path) -> None:
    proc = python(full_venv, tmp_path, RENDER, check=False, HARMONY_VOCAB_AUTOREGISTER="0")
    assert proc.returncode != 0
    assert "failed to download or load vocab file" in proc.stderr


def test_registration_state_and_tier(full_venv: Path, tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import os, harmony_vocab as hv
        r = hv.resolve("o200k_base")
        print(os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(hv.bundled_dir()), r.tier, r.path == hv.bundled_path("o200k_base"))
        """
    )
    assert python(full_venv, tmp_path, code).stdout.split() == ["True", "package", "True"]


def test_registration_prefers_model_dir_and_never_overrides_an_operator(full_venv: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "encodings").mkdir(parents=True)
    shutil.copy(SHARED_VOCAB / "o200k_base.tiktoken", model / "encodings")
    code = "import os, harmony_vocab as hv; r = hv.resolve('o200k_base'); print(os.environ['TIKTOKEN_ENCODINGS_BASE'], r.tier)"
    out = python(full_venv, tmp_path, code, HARMONY_VOCAB_MODEL_DIR=str(model)).stdout.split()
    assert out == [str(model / "encodings"), "model"]
    # A value inherited from a parent process's registration is redone with this process's settings.
    bundled = next(full_venv.glob("lib/python*/site-packages/harmony_vocab/data"))
    out = python(full_venv, tmp_path, code, HARMONY_VOCAB_MODEL_DIR=str(model), TIKTOKEN_ENCODINGS_BASE=str(bundled),
                 HARMONY_VOCAB_REGISTERED=f"package:{bundled}").stdout.split()
    assert out == [str(model / "encodings"), "model"]
    # An operator's own TIKTOKEN_ENCODINGS_BASE is left alone and counts as the environment tier.
    out = python(full_venv, tmp_path, code, TIKTOKEN_ENCODINGS_BASE=str(SHARED_VOCAB)).stdout.split()
    assert out == [str(SHARED_VOCAB), "environment"]
    out = python(full_venv, tmp_path, RENDER + "\nimport harmony_vocab as hv; print(hv.register())",
                 TIKTOKEN_ENCODINGS_BASE=str(SHARED_VOCAB)).stdout
    assert out.splitlines()[-1] == str(SHARED_VOCAB)


def test_load_harmony_encoding_from_a_renamed_copy(full_venv: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "gpt-oss-vocab.bin"
    shutil.copy(SHARED_VOCAB / "o200k_base.tiktoken", renamed)
    code = RENDER.replace(
        "enc = load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)",
        "from harmony_vocab.openai_harmony import load_harmony_encoding as hv_load\n"
        f"enc = hv_load(HarmonyEncodingName.HARMONY_GPT_OSS, vocab_path={str(renamed)!r})",
    )
    # With the registration off, only harmony_vocab.openai_harmony.load_harmony_encoding can have found the file.
    out = python(full_venv, tmp_path, code, HARMONY_VOCAB_AUTOREGISTER="0").stdout
    assert "parsed: Quatre: 4" in out


@pytest.mark.parametrize("setting", ["files", "model_dir"])
def test_register_with_relative_settings_survives_a_chdir(full_venv: Path, tmp_path: Path, setting: str) -> None:
    """register() hands openai-harmony an absolute directory, so a program that changes its
    working directory afterwards still loads offline."""
    work = tmp_path / "work"
    (work / "vocab").mkdir(parents=True)
    core = {n: p for n, p in PINS.items() if p.wheel == "core"}
    for pin in core.values():
        shutil.copy(SHARED_VOCAB / pin.file, work / "vocab")
    if setting == "files":
        env = {f"HARMONY_VOCAB_{n.upper()}": f"vocab/{p.file}" for n, p in core.items()}
    else:
        env = {"HARMONY_VOCAB_MODEL_DIR": "vocab"}
    code = "import os, harmony_vocab\nharmony_vocab.register()\nos.chdir(os.path.expanduser('~'))\n" + RENDER
    proc = run(offline([venv_python(full_venv), "-c", code]), cwd=work,
               env=clean_env(tmp_path, HARMONY_VOCAB_AUTOREGISTER="0", **env))
    assert "parsed: Quatre: 4" in proc.stdout


def test_load_harmony_encoding_is_safe_from_threads(full_venv: Path, tmp_path: Path) -> None:
    renamed = str(tmp_path / "renamed.vocab")
    shutil.copy(SHARED_VOCAB / "o200k_base.tiktoken", renamed)
    code = textwrap.dedent(
        f"""
        import os
        from concurrent.futures import ThreadPoolExecutor
        from harmony_vocab.openai_harmony import load_harmony_encoding
        sources = [dict(), dict(vocab_path={renamed!r}), dict(vocab_dir={str(SHARED_VOCAB)!r})] * 3
        with ThreadPoolExecutor(6) as pool:
            encs = list(pool.map(lambda kw: load_harmony_encoding("HarmonyGptOss", **kw), sources))
        ids = {{tuple(e.encode("hello <|start|>", allowed_special="all")) for e in encs}}
        print(len(encs), sorted(ids), "TIKTOKEN_ENCODINGS_BASE" in os.environ)
        """
    )
    out = python(full_venv, tmp_path, code, HARMONY_VOCAB_AUTOREGISTER="0").stdout
    assert out.strip() == "9 [(24912, 220, 200006)] False"


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base", "o200k_harmony"])
def test_tiktoken_encoding_matches_tiktoken_from_a_seeded_cache(full_venv: Path, tmp_path: Path, name: str) -> None:
    pin = PINS["cl100k_base" if name == "cl100k_base" else "o200k_base"]
    seeded = tmp_path / "tiktoken-cache"
    seeded.mkdir()
    shutil.copy(SHARED_VOCAB / pin.file, seeded / pin.cache_key)
    code = textwrap.dedent(
        f"""
        import json, os, tiktoken
        from harmony_vocab.tiktoken import tiktoken_encoding
        corpus = {CORPUS!r}
        ours = tiktoken_encoding({name!r})
        cache = os.environ.pop("TIKTOKEN_CACHE_DIR")
        os.environ["TIKTOKEN_CACHE_DIR"] = os.path.join(cache, "unused")  # ours must not need it
        os.environ["TIKTOKEN_CACHE_DIR"] = cache
        theirs = tiktoken.get_encoding({name!r})
        def facts(e):
            return dict(name=e.name, ids=e.encode(corpus, allowed_special="all"),
                        ordinary=e.encode_ordinary(corpus), specials=sorted(e.special_tokens_set),
                        n_vocab=e.n_vocab, eot=e.eot_token, pat=e._pat_str)
        a, b = facts(ours), facts(theirs)
        assert a == b, [k for k in a if a[k] != b[k]]
        assert ours.decode(a["ids"]) == corpus
        print(len(a["ids"]), "ids equal")
        """
    )
    # tiktoken_encoding itself runs with an empty tiktoken cache: it reads the bundled file; the
    # start-up hook is off, so tiktoken.get_encoding reads its own cache, with its own code.
    out = python(full_venv, tmp_path, code, TIKTOKEN_CACHE_DIR=str(seeded), HARMONY_VOCAB_AUTOREGISTER="0").stdout
    assert "ids equal" in out


def test_tiktoken_encoding_needs_no_tiktoken_cache(full_venv: Path, tmp_path: Path) -> None:
    code = "from harmony_vocab.tiktoken import tiktoken_encoding; print(tiktoken_encoding('o200k_base').encode('hello world'))"
    out = python(full_venv, tmp_path, code, TIKTOKEN_CACHE_DIR=str(tmp_path / "empty")).stdout
    assert out.strip() == "[24912, 2375]"
    assert not (tmp_path / "empty").exists()


def test_glue_without_its_extra_names_the_extra(wheel_venv: Path, tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        from harmony_vocab.openai_harmony import load_harmony_encoding
        from harmony_vocab.tiktoken import tiktoken_encoding
        for call in (lambda: load_harmony_encoding("HarmonyGptOss"), lambda: tiktoken_encoding("o200k_base")):
            try:
                call()
            except ImportError as exc:
                print(type(exc).__name__, exc)
        """
    )
    out = python(wheel_venv, tmp_path, code).stdout
    assert "pip install 'harmony-vocab[harmony]'" in out
    assert "pip install 'harmony-vocab[tiktoken]'" in out


def test_startup_hook_imports_almost_nothing(full_venv: Path, make_venv: Callable[..., Path], tmp_path: Path) -> None:
    """What the .pth adds to every interpreter start: one tiny module, nothing else (Python 3.13
    also imports its utf-8-sig codec to read any .pth file at all)."""

    def modules_at_start(venv: Path) -> set:  # type: ignore[type-arg]
        proc = run([venv_python(venv), "-X", "importtime", "-c", "pass"], env=clean_env(tmp_path))
        return {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line} - {"package"}

    added = modules_at_start(full_venv) - modules_at_start(make_venv()) - {"encodings.utf_8_sig"}
    assert added == {"_harmony_vocab_startup"}


def test_startup_never_fails_a_program_start(make_venv: Callable[..., Path], dist: Dict[str, Path], tmp_path: Path) -> None:
    venv = make_venv(str(dist["wheel"]))
    data = next(venv.glob("lib/python*/site-packages/harmony_vocab/data"))
    for f in data.iterdir():
        f.unlink()
    code = textwrap.dedent(
        """
        import os, harmony_vocab as hv
        print("TIKTOKEN_ENCODINGS_BASE" in os.environ)
        try:
            hv.resolve("o200k_base")
        except hv.VocabNotFoundError as exc:
            print([a.tier + ": " + a.outcome for a in exc.attempts if a.tier == "package"])
        """
    )
    out = python(venv, tmp_path, code, HARMONY_VOCAB_MODEL_DIR="/nonexistent\x01").stdout.splitlines()
    assert out == ["False", "['package: missing']"]



def test_the_wheel_ships_the_pth_and_the_start_file(dist: Dict[str, Path], wheel_venv: Path, tmp_path: Path) -> None:
    """Both start-up hooks (the .pth line, and PEP 829's .start entry point for Python 3.15+) at
    the top of the wheel, as in the source tree; the installed .start entry runs the start-up
    registration in an interpreter where no .pth ran (-S)."""
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        names = set(wheel.namelist())
        for name in ("harmony_vocab.pth", "harmony_vocab.start", "_harmony_vocab_startup.py"):
            assert name in names
            assert wheel.read(name) == (ROOT / "src" / name).read_bytes()
    site_packages = next(wheel_venv.glob("lib/python*/site-packages"))
    entry = next(ln.strip() for ln in (site_packages / "harmony_vocab.start").read_text().splitlines()
                 if ln.strip() and not ln.startswith("#"))
    code = ("import os, sys, pkgutil; print(os.environ.get('TIKTOKEN_ENCODINGS_BASE')); "
            f"sys.path.append({str(site_packages)!r}); pkgutil.resolve_name({entry!r})(); "
            "print(os.environ.get('TIKTOKEN_ENCODINGS_BASE'), any(type(f).__name__ == 'TiktokenFinder' for f in sys.meta_path))")
    proc = run(offline([venv_python(wheel_venv), "-S", "-c", code]), env=clean_env(tmp_path))
    assert proc.stdout.splitlines() == ["None", f"{site_packages / 'harmony_vocab' / 'data'} True"]


@pytest.mark.parametrize("keep", [0, 0.5])
def test_a_damaged_start_up_module_costs_one_line_once(make_venv: Callable[..., Path], dist: Dict[str, Path],
                                                       tmp_path: Path, keep: float) -> None:
    """Issue 17.10: the installed _harmony_vocab_startup.py truncated (empty, or cut in the middle):
    every start still succeeds and says so in at most one line on stderr (not once per site
    directory: a venv reaches site-packages through lib and lib64)."""
    venv = make_venv(str(dist["wheel"]))
    module = next(venv.glob("lib/python*/site-packages/_harmony_vocab_startup.py"))
    text = module.read_bytes()
    module.write_bytes(text[: int(len(text) * keep)])
    for cached in module.parent.glob("__pycache__/_harmony_vocab_startup.*"):
        cached.unlink()
    proc = run([venv_python(venv), "-c", "pass"], env=clean_env(tmp_path), check=False)
    assert proc.returncode == 0
    lines = proc.stderr.splitlines()
    assert len(lines) <= 1, proc.stderr
    assert all(ln.startswith("harmony-vocab: ") and "reinstall harmony-vocab" in ln for ln in lines)
    # Programs run as ever.
    assert run([venv_python(venv), "-c", "print(6 * 7)"], env=clean_env(tmp_path)).stdout == "42\n"


def test_a_non_utf8_directory_is_never_handed_to_openai_harmony(full_venv: Path, tmp_path: Path) -> None:
    """Issue 17.7: a directory whose name is not UTF-8 cannot be read by openai-harmony (Rust).
    The start-up registration passes over HARMONY_VOCAB_O200K_BASE there (the packaged copy
    serves), and load_harmony_encoding(vocab_dir=...) works offline through a link. Control:
    openai-harmony pointed at that directory itself fails offline."""
    latin1 = os.fsdecode(bytes(tmp_path) + b"/j\xfcrgen")
    os.mkdir(latin1)
    shutil.copy(SHARED_VOCAB / "o200k_base.tiktoken", latin1)
    show = "import os, harmony_vocab as hv; print(os.environ['TIKTOKEN_ENCODINGS_BASE'] == str(hv.bundled_dir()))\n"
    out = python(full_venv, tmp_path, show + RENDER,
                 HARMONY_VOCAB_O200K_BASE=os.path.join(latin1, "o200k_base.tiktoken")).stdout
    assert out.splitlines() == ["True", "parsed: Quatre: 4"]
    explicit = RENDER.replace(
        "enc = load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)",
        "import os\nfrom harmony_vocab.openai_harmony import load_harmony_encoding as hv_load\n"
        "enc = hv_load(HarmonyEncodingName.HARMONY_GPT_OSS, "
        "vocab_dir=os.fsdecode(os.environb[b'VDIR']))",
    )
    out = python(full_venv, tmp_path, explicit, HARMONY_VOCAB_AUTOREGISTER="0", VDIR=latin1).stdout
    assert "parsed: Quatre: 4" in out
    control = python(full_venv, tmp_path, RENDER, check=False, HARMONY_VOCAB_AUTOREGISTER="0",
                     TIKTOKEN_ENCODINGS_BASE=latin1)
    assert control.returncode != 0 and "failed to download or load vocab file" in control.stderr
