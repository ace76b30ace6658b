"""PollReactor: the reactor that waits with poll(2).

poll(2) has no descriptor-number limit, unlike select(2), but still costs time in
proportion to the number of watched descriptors; ``torsion.internet.default`` picks it
on POSIX systems that have neither epoll nor kqueue. All the work is done by the shared
torsion.internet._selectorreactor.SelectorReactor.
Tests: tests/internet/test_pollingreactors.py and the conformance suite.
"""

from __future__ import annotations

from torsion.internet._pollers import PollPoller
from torsion.internet._selectorreactor import SelectorReactor, installSelectorReactor

__all__ = ["PollReactor", "install"]


class PollReactor(SelectorReactor):
    """A reactor polling with poll(2) (``select.poll``)."""

    pollerFactory = PollPoller


def install() -> PollReactor:
    """Make a new PollReactor the global reactor and return it.

    Raises:
        ReactorAlreadyInstalledError: if a reactor is installed already.
    """
    return installSelectorReactor(PollReactor)
