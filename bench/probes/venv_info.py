"""Print, as JSON, what the benchmark checks of a venv: the core's and the companion's data
directories (null where not installed), the pins, site-packages, the Python version, the start-up
registration marker and the modules loaded at start-up.

    python venv_info.py
"""

import json
import os
import platform
import sys
import sysconfig

modules = sorted(sys.modules)
try:
    from harmony_vocab.pins import PINS
    from harmony_vocab.tiers import data_dir
except ImportError:
    data = legacy = None
    pins = {}
else:
    data, legacy = data_dir("core"), data_dir("legacy")
    pins = {name: {"wheel": pin.wheel, "files": [{"name": f.name, "sha256": f.sha256, "size": f.size,
                                                  "urls": list(f.urls)} for f in pin.files]}
            for name, pin in PINS.items()}
print(json.dumps({"data": data, "legacy": legacy, "pins": pins, "site": sysconfig.get_paths()["purelib"],
                  "python": platform.python_version(), "registered": os.environ.get("HARMONY_VOCAB_REGISTERED"),
                  "modules": modules}))
