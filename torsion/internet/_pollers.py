"""Pollers: the one system call each selector reactor waits in, behind one small shape.

A poller registers descriptors with an event mask of ``READ`` and ``WRITE`` and
returns ``(fd, events)`` pairs from ``poll(timeout, maxevents)``, where ``events`` uses poll(2)'s
bits: ``READ`` (POLLIN), ``WRITE`` (POLLOUT), and error or hang-up bits the kernel
adds on its own. That is what epoll and poll(2) speak already, so the epoll reactor
waits on a bare ``select.epoll`` object and the poll reactor on a thin wrapper that
only converts the timeout: the per-event work of the ``selectors`` module (a key
lookup and a tuple per ready descriptor) is gone from the hot path of the busiest
reactors. ``maxevents`` is the number of descriptors registered, which no poll can
exceed: epoll sizes the buffer it hands the kernel by it (1,023 entries otherwise,
allocated on every call), the others ignore it. select(2), kqueue and the tests' fake
selectors go through ``SelectorsPoller``, which translates from a ``selectors`` selector.
Tests: tests/internet/test_selectreactor.py (shared behaviour, with fake selectors),
tests/internet/test_pollingreactors.py and the conformance suite.
"""

from __future__ import annotations

import math
import select
import selectors
from typing import Protocol

__all__ = ["READ", "WRITE", "PollPoller", "Poller", "SelectorsPoller", "epollPoller"]

READ = 1  # POLLIN, EPOLLIN
WRITE = 4  # POLLOUT, EPOLLOUT


class Poller(Protocol):
    """What SelectorReactor needs of the mechanism it waits with."""

    def register(self, fd: int, eventmask: int) -> None: ...

    def modify(self, fd: int, eventmask: int) -> None: ...

    def unregister(self, fd: int) -> None: ...

    def poll(self, timeout: float | None, maxevents: int = -1) -> list[tuple[int, int]]: ...

    def close(self) -> None: ...


def epollPoller() -> Poller:
    """A new epoll object: it speaks the poller shape as it is (Linux only).

    Raises:
        ImportError: if this system has no epoll.
    """
    if not hasattr(select, "epoll"):
        raise ImportError("epoll is only available on Linux")
    # epoll's bits are poll(2)'s on Linux, the one system that has it.
    assert (select.EPOLLIN, select.EPOLLOUT) == (READ, WRITE)
    return select.epoll()


class PollPoller:
    """poll(2), with the timeout in seconds like the other pollers (poll wants ms)."""

    __slots__ = ("_poll", "modify", "register", "unregister")

    def __init__(self) -> None:
        self._poll = select.poll()
        self.register = self._poll.register
        self.modify = self._poll.modify
        self.unregister = self._poll.unregister

    def poll(self, timeout: float | None, maxevents: int = -1) -> list[tuple[int, int]]:
        """Wait up to ``timeout`` seconds (None: for ever) for ready descriptors.

        ``maxevents`` is ignored: poll(2) reports every ready descriptor it watches.
        """
        if timeout is None:
            return self._poll.poll()
        # Rounded up: a timer due in 0.3 ms must not make the loop spin until it is due.
        return self._poll.poll(math.ceil(timeout * 1000))

    def close(self) -> None:
        """poll(2) holds no descriptor of its own: nothing to release."""


class SelectorsPoller:
    """A ``selectors`` selector (select, kqueue, or a test's fake) as a poller."""

    __slots__ = ("selector",)

    def __init__(self, selector: selectors.BaseSelector) -> None:
        self.selector = selector

    @staticmethod
    def _toSelectors(eventmask: int) -> int:
        return (selectors.EVENT_READ if eventmask & READ else 0) | (
            selectors.EVENT_WRITE if eventmask & WRITE else 0
        )

    def register(self, fd: int, eventmask: int) -> None:
        """Watch ``fd`` for the events of ``eventmask``."""
        self.selector.register(fd, self._toSelectors(eventmask))

    def modify(self, fd: int, eventmask: int) -> None:
        """Watch ``fd`` for the events of ``eventmask`` instead."""
        self.selector.modify(fd, self._toSelectors(eventmask))

    def unregister(self, fd: int) -> None:
        """Stop watching ``fd``."""
        self.selector.unregister(fd)

    def poll(self, timeout: float | None, maxevents: int = -1) -> list[tuple[int, int]]:
        """Wait up to ``timeout`` seconds; return ``(fd, READ | WRITE bits)`` pairs.

        ``maxevents`` is ignored (a selector's select takes no such limit).

        kqueue reports a descriptor that is both readable and writable as two events;
        they stay two pairs, which the reactor handles one after the other.
        """
        return [
            (
                key.fd,
                (READ if mask & selectors.EVENT_READ else 0)
                | (WRITE if mask & selectors.EVENT_WRITE else 0),
            )
            for key, mask in self.selector.select(timeout)
        ]

    def close(self) -> None:
        """Close the selector."""
        self.selector.close()
