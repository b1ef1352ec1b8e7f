# Run at the frozen app's start, before the program: what harmony_vocab.pth does in a venv.
import _harmony_vocab_startup

_harmony_vocab_startup.run()
