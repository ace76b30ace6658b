"""EPollReactor: the reactor that waits with Linux's epoll, the default there.

epoll's cost does not grow with the number of idle descriptors, which makes it the
right choice for servers with many connections. Importing this module where epoll does
not exist raises ImportError. All the work is done by the shared
torsion.internet._selectorreactor.SelectorReactor.
Tests: tests/internet/test_pollingreactors.py and the conformance suite.
"""

from __future__ import annotations

import selectors

from torsion.internet._pollers import epollPoller
from torsion.internet._selectorreactor import SelectorReactor, installSelectorReactor

__all__ = ["EPollReactor", "install"]

if not hasattr(selectors, "EpollSelector"):
    raise ImportError(
        "epoll is only available on Linux; use torsion.internet.default.install() to get "
        "the best reactor for this platform"
    )


class EPollReactor(SelectorReactor):
    """A reactor polling with epoll (a bare ``select.epoll`` object)."""

    pollerFactory = staticmethod(epollPoller)


def install() -> EPollReactor:
    """Make a new EPollReactor the global reactor and return it.

    Raises:
        ReactorAlreadyInstalledError: if a reactor is installed already.
    """
    return installSelectorReactor(EPollReactor)
