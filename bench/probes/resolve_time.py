"""Time the first harmony_vocab.resolve("o200k_base") of this process; print {"seconds", "tier"}.

    python resolve_time.py [MODEL_DIR]
"""

import json
import sys
import time

from harmony_vocab import resolve

model_dir = sys.argv[1] if len(sys.argv) > 1 else None
t0 = time.perf_counter()
r = resolve("o200k_base", model_dir=model_dir)
t1 = time.perf_counter()
print(json.dumps({"seconds": t1 - t0, "tier": r.tier}))
