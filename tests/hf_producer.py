"""Hugging Face's own tools, run in a venv of their own (not ours): they produce what the model tier
must read, so the tests do not check our code against our own idea of the hub.

    python hf_producer.py cache-dir
        print huggingface_hub.constants.HF_HUB_CACHE (for the environment this runs in), as JSON
    python hf_producer.py convert VOCAB.tiktoken OUT.json
        write the tokenizer.json that transformers' TikTokenConverter makes of VOCAB, with the
        GPT-OSS special tokens (taken from openai-harmony, which reads the vocab from
        $TIKTOKEN_ENCODINGS_BASE) added, saved by the tokenizers library
    python hf_producer.py publish HUB_CACHE REPO_ID COMMIT FILE...
        serve FILEs (each with its path relative to the current directory) on 127.0.0.1 as the
        hub serves repo REPO_ID at COMMIT, and download each one with huggingface_hub's
        hf_hub_download into HUB_CACHE: the cache is laid out by huggingface_hub itself, with no
        network beyond loopback. Prints the snapshot paths as JSON.
"""

from __future__ import annotations

import hashlib
import http.server
import inspect
import json
import os
import sys
import tempfile
import threading
from pathlib import Path
from typing import Dict, List


def cache_dir() -> None:
    from huggingface_hub import constants

    print(json.dumps({"HF_HUB_CACHE": constants.HF_HUB_CACHE}))


def gpt_oss_special_tokens() -> List[str]:
    """The special tokens of the GPT-OSS encoding, in id order, as openai-harmony defines them."""
    import openai_harmony as h

    enc = h.load_harmony_encoding(h.HarmonyEncodingName.HARMONY_GPT_OSS)
    by_id = sorted((enc.encode(t, allowed_special="all"), t) for t in enc.special_tokens_set)
    assert all(len(ids) == 1 for ids, _ in by_id)
    first = by_id[0][0][0]
    assert [ids[0] for ids, _ in by_id] == list(range(first, first + len(by_id))), "ids are not contiguous"
    return [t for _, t in by_id]


def tiktoken_pattern(vocab: Path) -> str:
    """The split pattern tiktoken uses for the encoding named like `vocab` (o200k_base...), read
    offline: tiktoken's cache is seeded with the file under the name it looks for."""
    import tiktoken

    name = vocab.name.split(".")[0]
    url = "https://openaipublic.blob.core.windows.net/encodings/" + vocab.name
    cache = Path(tempfile.mkdtemp())
    (cache / hashlib.sha1(url.encode()).hexdigest()).write_bytes(vocab.read_bytes())
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    pattern: str = tiktoken.get_encoding(name)._pat_str
    return pattern


def convert(vocab: Path, out: Path) -> None:
    from transformers.convert_slow_tokenizer import TikTokenConverter

    specials = gpt_oss_special_tokens()
    # transformers 5 names the argument extra_special_tokens, 4.x (on Python 3.9) additional_special_tokens.
    takes = inspect.signature(TikTokenConverter.__init__).parameters
    key = "extra_special_tokens" if "extra_special_tokens" in takes else "additional_special_tokens"
    converter = TikTokenConverter(vocab_file=str(vocab), pattern=tiktoken_pattern(vocab), **{key: specials})
    tokenizer = converter.converted()  # a tokenizers.Tokenizer
    tokenizer.save(str(out))
    print(json.dumps({"vocab_size": tokenizer.get_vocab_size(), "special_tokens": len(specials)}))


class HubHandler(http.server.BaseHTTPRequestHandler):
    """GET/HEAD /<repo_id>/resolve/<revision>/<path>, answered as the hub answers for a file kept
    in LFS: X-Repo-Commit, X-Linked-Etag (the sha256 of the content), X-Linked-Size."""

    repo_id = ""
    commit = ""
    files: Dict[str, bytes] = {}

    def _file(self) -> "bytes | None":
        prefix = f"/{self.repo_id}/resolve/"
        if not self.path.startswith(prefix):
            return None
        revision, _, rel = self.path[len(prefix):].partition("/")
        if revision not in ("main", self.commit):
            return None
        return self.files.get(rel)

    def _headers(self, data: bytes) -> None:
        digest = hashlib.sha256(data).hexdigest()
        self.send_response(200)
        self.send_header("X-Repo-Commit", self.commit)
        self.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')
        self.send_header("X-Linked-Etag", f'"{digest}"')
        self.send_header("X-Linked-Size", str(len(data)))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        data = self._file()
        if data is None:
            self.send_error(404)
            return
        self._headers(data)
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


def publish(hub_cache: Path, repo_id: str, commit: str, files: List[str]) -> None:
    HubHandler.repo_id, HubHandler.commit = repo_id, commit
    HubHandler.files = {rel: Path(rel).read_bytes() for rel in files}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HubHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # Read by huggingface_hub when it is imported: set before.
    os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{server.server_address[1]}"
    os.environ["HF_HUB_DISABLE_XET"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1"
    from huggingface_hub import hf_hub_download

    paths = [hf_hub_download(repo_id, rel, cache_dir=str(hub_cache)) for rel in files]
    server.shutdown()
    print(json.dumps({"paths": paths}))


def main(argv: List[str]) -> None:
    command, args = argv[0], argv[1:]
    if command == "cache-dir":
        cache_dir()
    elif command == "convert":
        convert(Path(args[0]), Path(args[1]))
    elif command == "publish":
        publish(Path(args[0]), args[1], args[2], args[3:])
    else:
        sys.exit(f"unknown command {command!r}: use cache-dir, convert or publish")


if __name__ == "__main__":
    main(sys.argv[1:])
