# The vocab files (and the companion's, when installed), the modules harmony_vocab imports lazily
# (invisible to PyInstaller's analysis), and the start-up module the runtime hook calls.
# openai-harmony, tiktoken and requests come into the app only when the program imports them.
from PyInstaller.utils.hooks import collect_data_files, collect_submodules

datas = collect_data_files("harmony_vocab", includes=["data/*"])
try:
    datas += collect_data_files("harmony_vocab_legacy", includes=["data/*"])
except Exception:  # the companion is not installed
    pass
hiddenimports = [
    "_harmony_vocab_startup",
    *collect_submodules("harmony_vocab", filter=lambda name: not name.startswith("harmony_vocab._pyinstaller")),
]
excludedimports = ["openai_harmony", "tiktoken", "tiktoken_ext", "requests"]
