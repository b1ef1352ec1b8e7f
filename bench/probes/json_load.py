"""Time json.load of a file, in this fresh process; print {"seconds"}.

    python json_load.py PATH
"""

import json
import sys
import time

t0 = time.perf_counter()
with open(sys.argv[1], "rb") as f:
    json.load(f)
t1 = time.perf_counter()
print(json.dumps({"seconds": t1 - t0}))
