"""Time the import of one module in this fresh process; print {"seconds", "cpu", "preloaded"} as JSON.

    python [-X importtime] import_time.py MODULE

"seconds" is wall time, "cpu" this process's CPU time, both around the import. A module the
start-up already imported (a .pth) is dropped from sys.modules first, so its code runs again.
Run with ``-X importtime``, the interpreter also reports the import on stderr.
"""

import json
import sys
import time

module = sys.argv[1]
preloaded = [m for m in sys.modules if m == module or m.startswith(module + ".")]
for name in preloaded:
    del sys.modules[name]
c0, t0 = time.process_time(), time.perf_counter()
__import__(module)  # the import statement's path: what -X importtime reports
t1, c1 = time.perf_counter(), time.process_time()
print(json.dumps({"seconds": t1 - t0, "cpu": c1 - c0, "preloaded": preloaded}))
