"""Time loading an encoding in this fresh process; print {"seconds", "tokens"} ("hello world" encoded).

    python load_encoding.py CALL

CALL is one of:
  harmony_vocab.load_harmony_encoding   harmony_vocab.load_harmony_encoding("HarmonyGptOss")
  openai_harmony.load_harmony_encoding  openai_harmony.load_harmony_encoding(HARMONY_GPT_OSS)
  harmony_vocab.tiktoken_encoding       harmony_vocab.tiktoken_encoding("o200k_base")
  tiktoken.get_encoding                 tiktoken.get_encoding("o200k_base")

Imports are outside the timing; a harmony_vocab call also imports the library it wraps first.
"""

import importlib
import json
import sys
import time

CALLS = {
    "harmony_vocab.load_harmony_encoding": ("openai_harmony", "HarmonyGptOss"),
    "openai_harmony.load_harmony_encoding": ("openai_harmony", None),
    "harmony_vocab.tiktoken_encoding": ("tiktoken", "o200k_base"),
    "tiktoken.get_encoding": ("tiktoken", "o200k_base"),
}

call = sys.argv[1]
wrapped, argument = CALLS[call]
module_name, _, function_name = call.partition(".")
library = importlib.import_module(wrapped)
function = getattr(importlib.import_module(module_name), function_name)
if argument is None:  # openai_harmony's own call takes its enum
    argument = library.HarmonyEncodingName.HARMONY_GPT_OSS
t0 = time.perf_counter()
enc = function(argument)
t1 = time.perf_counter()
print(json.dumps({"seconds": t1 - t0, "tokens": len(enc.encode("hello world"))}))
