"""PyInstaller support, found through the ``pyinstaller40`` entry point: ``pyinstaller app.py``
of a program that uses openai-harmony, tiktoken or harmony-vocab collects the vocab files, and the
frozen app runs the start-up registration that ``harmony_vocab.pth`` runs in a venv."""

import os
from typing import List


def get_hook_dirs() -> List[str]:
    """The directory holding harmony-vocab's PyInstaller hooks (``rthooks.dat`` included)."""
    return [os.path.dirname(os.path.abspath(__file__))]
