"""Time loading an encoding in this fresh process; print {"seconds", "tokens"} ("hello world" encoded).

    python load_encoding.py CALL [NAME]

CALL is one of:
  harmony_vocab.openai_harmony.load_harmony_encoding   (NAME "HarmonyGptOss")
  openai_harmony.load_harmony_encoding                 (openai-harmony's own enum, HARMONY_GPT_OSS)
  harmony_vocab.tiktoken.tiktoken_encoding             (NAME, default "o200k_base")
  tiktoken.get_encoding                                (NAME, default "o200k_base")

Imports are outside the timing; a harmony_vocab call also imports the library it wraps first.
"""

import importlib
import json
import sys
import time

WRAPS = {
    "harmony_vocab.openai_harmony.load_harmony_encoding": ("openai_harmony", "HarmonyGptOss"),
    "openai_harmony.load_harmony_encoding": ("openai_harmony", None),
    "harmony_vocab.tiktoken.tiktoken_encoding": ("tiktoken", "o200k_base"),
    "tiktoken.get_encoding": ("tiktoken", "o200k_base"),
}

call = sys.argv[1]
wrapped, argument = WRAPS[call]
if len(sys.argv) > 2:
    argument = sys.argv[2]
module_name, _, function_name = call.rpartition(".")
library = importlib.import_module(wrapped)
function = getattr(importlib.import_module(module_name), function_name)
if argument is None:  # openai_harmony's own call takes its enum
    argument = library.HarmonyEncodingName.HARMONY_GPT_OSS
t0 = time.perf_counter()
enc = function(argument)
t1 = time.perf_counter()
print(json.dumps({"seconds": t1 - t0, "tokens": len(enc.encode("hello world"))}))
