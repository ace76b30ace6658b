"""SelectReactor: the reactor that waits with select(2), the last-resort mechanism.

select(2) exists everywhere but costs time in proportion to the number of watched
descriptors and cannot watch descriptor numbers of 1024 and above (FD_SETSIZE), so
``torsion.internet.default`` only picks it when nothing better exists. All the work is
done by the shared torsion.internet._selectorreactor.SelectorReactor.
Tests: tests/internet/test_selectreactor.py and the conformance suite.
"""

from __future__ import annotations

import selectors

from torsion.internet._pollers import SelectorsPoller
from torsion.internet._selectorreactor import SelectorReactor, installSelectorReactor

__all__ = ["SelectReactor", "install"]


class SelectReactor(SelectorReactor):
    """A reactor polling with select(2) (``selectors.SelectSelector``)."""

    @staticmethod
    def pollerFactory() -> SelectorsPoller:
        return SelectorsPoller(selectors.SelectSelector())


def install() -> SelectReactor:
    """Make a new SelectReactor the global reactor and return it.

    Raises:
        ReactorAlreadyInstalledError: if a reactor is installed already.
    """
    return installSelectorReactor(SelectReactor)
