"""DelayedCall: a timed call scheduled by ``callLater``, shared by every IReactorTime.

The real reactors and the deterministic ``torsion.internet.task.Clock`` both hand
out these objects, so code under test sees exactly what it sees in production.
The scheduler that owns a DelayedCall passes two hooks: one to forget it when
cancelled, one to re-sort it when its time moves. Tests: tests/internet/test_delayedcall.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from torsion.internet.error import AlreadyCalled, AlreadyCancelled
from torsion.internet.interfaces import IDelayedCall


@implementer(IDelayedCall)
class DelayedCall:
    """A call of ``func(*args, **kw)`` due at ``time`` on some scheduler's clock.

    ``cancel`` and ``reset`` are the owner's hooks: ``cancel(self)`` when the call is
    cancelled, ``reset(self)`` after its due time has changed. ``seconds`` reads the
    owner's clock, so ``delay`` and ``reset`` are relative to it.
    """

    __slots__ = (
        "__weakref__",
        "_canceller",
        "_resetter",
        "args",
        "called",
        "cancelled",
        "func",
        "kw",
        "seconds",
        "time",
    )

    def __init__(
        self,
        time: float,
        func: Callable[..., object],
        args: tuple[Any, ...],
        kw: dict[str, Any],
        cancel: Callable[[DelayedCall], None],
        reset: Callable[[DelayedCall], None],
        seconds: Callable[[], float],
    ) -> None:
        self.time = time
        self.func = func
        self.args = args
        self.kw = kw
        self._canceller = cancel
        self._resetter = reset
        self.seconds = seconds
        self.cancelled = False
        self.called = False

    def getTime(self) -> float:
        """Return the time, on the owner's clock, at which the call will run."""
        return self.time

    def active(self) -> bool:
        """True until the call has run or been cancelled."""
        return not (self.called or self.cancelled)

    def _checkActive(self) -> None:
        if self.cancelled:
            raise AlreadyCancelled(f"{self!r} was already cancelled")
        if self.called:
            raise AlreadyCalled(f"{self!r} has already run")

    def cancel(self) -> None:
        """Stop the call from running.

        Raises:
            AlreadyCancelled: if it was cancelled before.
            AlreadyCalled: if it has already run.
        """
        self._checkActive()
        self.cancelled = True
        self._canceller(self)

    def reset(self, secondsFromNow: float) -> None:
        """Run the call ``secondsFromNow`` seconds from now instead."""
        self._checkActive()
        self.time = self.seconds() + secondsFromNow
        self._resetter(self)

    def delay(self, secondsLater: float) -> None:
        """Push the call ``secondsLater`` seconds further away (negative: sooner)."""
        self._checkActive()
        self.time += secondsLater
        self._resetter(self)

    def __lt__(self, other: DelayedCall) -> bool:
        return self.time < other.time

    def __repr__(self) -> str:
        name = getattr(self.func, "__qualname__", None) or repr(self.func)
        if self.called:
            state = "called"
        elif self.cancelled:
            state = "cancelled"
        else:
            state = f"due in {self.time - self.seconds():.3f}s"
        return f"<DelayedCall {id(self):#x} {state}: {name}{self.args!r}>"
