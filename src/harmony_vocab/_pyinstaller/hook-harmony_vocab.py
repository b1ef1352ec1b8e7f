# The vocab files, the modules harmony_vocab imports lazily (invisible to PyInstaller's analysis),
# and the start-up module that the runtime hook (rthooks/pyi_rth_harmony_vocab.py) calls.
# harmony_vocab's optional imports (openai-harmony, tiktoken, requests for downloads) come into
# the app only when the program itself imports them.
from PyInstaller.utils.hooks import collect_data_files, collect_submodules

datas = collect_data_files("harmony_vocab", includes=["**/*.tiktoken"])
hiddenimports = [
    "_harmony_vocab_startup",
    "_harmony_vocab_lookup",
    "_harmony_vocab_paths",
    *collect_submodules("harmony_vocab", filter=lambda name: not name.startswith("harmony_vocab._pyinstaller")),
]
excludedimports = ["openai_harmony", "tiktoken", "tiktoken_ext", "requests"]
