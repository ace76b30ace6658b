"""The platform's default reactor: ``install()`` makes the best one here the global one.

The choice, best first: epoll (Linux), kqueue (the BSDs and macOS), poll (other POSIX
systems), select (anywhere else). All four are the same reactor over a different
system call (torsion.internet._selectorreactor), so programs behave alike everywhere;
only how the cost grows with idle connections differs. ``from torsion.internet import
reactor`` calls ``install()`` when no reactor is installed yet.
Tests: tests/internet/test_default.py.
"""

from __future__ import annotations

import selectors

from torsion.internet._selectorreactor import SelectorReactor, installSelectorReactor

__all__ = ["install", "reactorClass"]


def reactorClass() -> type[SelectorReactor]:
    """Return the class of the best reactor this platform supports."""
    if hasattr(selectors, "EpollSelector"):
        from torsion.internet.epollreactor import EPollReactor

        return EPollReactor
    if hasattr(selectors, "KqueueSelector"):
        from torsion.internet.kqreactor import KQueueReactor

        return KQueueReactor
    if hasattr(selectors, "PollSelector"):
        from torsion.internet.pollreactor import PollReactor

        return PollReactor
    from torsion.internet.selectreactor import SelectReactor

    return SelectReactor


def install() -> SelectorReactor:
    """Make a new reactor of the platform's best kind the global reactor; return it.

    Raises:
        ReactorAlreadyInstalledError: if a reactor is installed already; the message
            names it and where it was installed from.
    """
    return installSelectorReactor(reactorClass())
