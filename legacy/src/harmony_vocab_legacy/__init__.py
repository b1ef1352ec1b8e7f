"""harmony-vocab-legacy: tiktoken's other vocab files (gpt2, r50k_base, p50k_base) as package data.

It holds no code: harmony-vocab finds its ``data`` directory (without importing it) and serves
these vocabs through the same lookup order, checks and commands as its own.
"""

__version__ = "0.1.0"
