# A program that imports only openai_harmony never imports harmony_vocab: bring it (and so its
# hook and runtime hook) into the frozen app, as its .pth brings it to every interpreter in a venv.
# Neither openai-harmony nor pyinstaller-hooks-contrib ships a hook for openai_harmony.
hiddenimports = ["harmony_vocab"]
