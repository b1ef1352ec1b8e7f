"""Write a byte-level BPE tokenizer.json for a .tiktoken vocab (the model-directory figure's input).

    python write_tokenizer_json.py VOCAB.tiktoken OUT/tokenizer.json

Runs in venv-subject; the converter is the tests' own (tests/support.py), never shipped in the wheel.
"""

import json
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from support import to_tokenizer_json  # noqa: E402

vocab, out = map(Path, sys.argv[1:3])
with open(out, "w", encoding="utf-8") as f:
    json.dump(to_tokenizer_json(vocab.read_bytes()), f, ensure_ascii=False)
