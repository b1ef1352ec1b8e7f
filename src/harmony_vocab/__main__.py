"""``python -m harmony_vocab``: the ``harmony-vocab`` command."""

import sys

from .cli import main

sys.exit(main())
