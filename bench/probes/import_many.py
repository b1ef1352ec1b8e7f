"""Time importing N small modules (created once in DIRECTORY) in this fresh process; print
{"seconds", "modules", "finders"} as JSON: the cost a sys.meta_path finder adds to every import.

    python import_many.py DIRECTORY N [ROUNDS]

Each round drops the modules from sys.modules and imports them again (every finder is asked
again; the bytecode is cached); "seconds" is the fastest round, the least disturbed by the rest
of the machine.
"""

import importlib
import json
import os
import sys
import time

directory, count = sys.argv[1], int(sys.argv[2])
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 20
os.makedirs(directory, exist_ok=True)
names = [f"bench_small_{i}" for i in range(count)]
for name in names:
    path = os.path.join(directory, name + ".py")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(f"VALUE = {len(name)}\n")
sys.path.insert(0, directory)
best = float("inf")
for _ in range(rounds):
    for name in names:
        sys.modules.pop(name, None)
    t0 = time.perf_counter()
    for name in names:
        importlib.import_module(name)
    best = min(best, time.perf_counter() - t0)
print(json.dumps({"seconds": best, "modules": count, "finders": [type(f).__name__ for f in sys.meta_path]}))
