"""Time hashlib.sha256 of files, each read into memory, in this fresh process; print
{"seconds", "cpu"} (wall and CPU time for all of them).

    python hash_file.py PATH [PATH ...]
"""

import hashlib
import json
import sys
import time

c0, t0 = time.process_time(), time.perf_counter()
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        hashlib.sha256(f.read()).hexdigest()
t1, c1 = time.perf_counter(), time.process_time()
print(json.dumps({"seconds": t1 - t0, "cpu": c1 - c0}))
