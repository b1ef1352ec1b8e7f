# As hook-openai_harmony.py, for a program that imports only tiktoken. tiktoken finds its
# encodings by listing the tiktoken_ext namespace package at run time, which PyInstaller's
# analysis cannot see: collect those plugin modules too. Neither tiktoken nor
# pyinstaller-hooks-contrib ships a hook for tiktoken.
from PyInstaller.utils.hooks import collect_submodules

hiddenimports = ["harmony_vocab", *collect_submodules("tiktoken_ext")]
