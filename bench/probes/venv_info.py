"""Print, as JSON, what the benchmark checks of a venv: the bundled data directory (null without
harmony-vocab), the Python version, the start-up registration marker, the modules loaded at start-up.

    python venv_info.py
"""

import json
import os
import platform
import sys

modules = sorted(sys.modules)
try:
    from harmony_vocab.bundled import bundled_dir
except ImportError:
    data = None
else:
    data = str(bundled_dir())
print(json.dumps({"data": data, "python": platform.python_version(),
                  "registered": os.environ.get("HARMONY_VOCAB_REGISTERED"), "modules": modules}))
