"""Mean time of a harmony_vocab.resolve("o200k_base") repeated after the first; print {"seconds"}.

    python resolve_repeat.py [CALLS]
"""

import json
import sys
import time

from harmony_vocab import resolve

calls = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
resolve("o200k_base")
t0 = time.perf_counter()
for _ in range(calls):
    resolve("o200k_base")
t1 = time.perf_counter()
print(json.dumps({"seconds": (t1 - t0) / calls}))
