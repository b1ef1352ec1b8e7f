"""Time hashlib.sha256 of a file read into memory, in this fresh process; print {"seconds"}.

    python hash_file.py PATH
"""

import hashlib
import json
import sys
import time

t0 = time.perf_counter()
with open(sys.argv[1], "rb") as f:
    hashlib.sha256(f.read()).hexdigest()
t1 = time.perf_counter()
print(json.dumps({"seconds": t1 - t0}))
