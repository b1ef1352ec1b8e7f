"""Time the import of one module in this fresh process; print {"seconds", "preloaded"} as JSON.

    python import_time.py MODULE

A module the start-up already imported (a .pth) is dropped from sys.modules first, so its code runs again.
"""

import importlib
import json
import sys
import time

module = sys.argv[1]
preloaded = [m for m in sys.modules if m == module or m.startswith(module + ".")]
for name in preloaded:
    del sys.modules[name]
t0 = time.perf_counter()
importlib.import_module(module)
t1 = time.perf_counter()
print(json.dumps({"seconds": t1 - t0, "preloaded": preloaded}))
