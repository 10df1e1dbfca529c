"""Sandbox time: modelled seconds (what AWS would take) and how fast they pass here.

With `scale=0.01` a CloudFormation create modelled at 120 s takes 1.2 s of wall time, and
a `Wait` state of 30 s takes 0.3 s. Everything that waits in the sandbox waits through
the clock, so one number sets the pace of a whole run.
"""

from __future__ import annotations

import threading
import time


class Clock:
    def __init__(self, scale: float = 0.01) -> None:
        if scale <= 0:
            raise ValueError("time scale must be positive")
        self.scale = scale
        self._started = time.monotonic()
        self._offset = 0.0

    def wall(self, modelled_seconds: float) -> float:
        """Wall-clock seconds for a modelled duration."""
        return max(0.0, modelled_seconds) * self.scale

    def sleep(self, modelled_seconds: float, interrupt: threading.Event | None = None) -> bool:
        """Sleep a modelled duration; True if `interrupt` cut it short."""
        seconds = self.wall(modelled_seconds)
        if interrupt is not None:
            return interrupt.wait(seconds)
        time.sleep(seconds)
        return False

    def modelled_now(self) -> float:
        """Modelled seconds since the sandbox started."""
        return self._offset + (time.monotonic() - self._started) / self.scale

    def rescale(self, scale: float) -> float:
        """Pass time at another pace from now on (modelled time goes on from where it is: it never
        runs backwards); the previous scale."""
        if scale <= 0:
            raise ValueError("time scale must be positive")
        now = time.monotonic()
        self._offset += (now - self._started) / self.scale
        self._started = now
        previous, self.scale = self.scale, scale
        return previous
