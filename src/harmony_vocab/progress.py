"""The progress bar `harmony-vocab fetch` shows on a terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .console import Messages


class ProgressBar:
    """``\\r``-updated progress on a terminal."""

    def __init__(self, label: str, stream: Messages) -> None:
        self.label = label
        self.stream = stream
        self.last = -1.0
        self.shown = False

    def __call__(self, received: int, total: int) -> None:
        import time

        now = time.monotonic()
        if received < total and now - self.last < 0.1:
            return
        self.last = now
        percent = received * 100 // total if total else 100
        self.stream.write(f"\r{self.label}: {received / 1e6:6.1f} / {total / 1e6:.1f} MB {percent:3d}%")
        self.stream.flush()
        self.shown = True

    def finish(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
