"""KQueueReactor: the reactor that waits with kqueue, the default on the BSDs and macOS.

Like epoll, kqueue's cost does not grow with the number of idle descriptors. Importing
this module where kqueue does not exist (Linux, Windows) raises ImportError, so
``try: from torsion.internet import kqreactor`` is how to probe for it. All the work is
done by the shared torsion.internet._selectorreactor.SelectorReactor; the one kqueue
peculiarity it copes with is that readability and writability of one descriptor arrive
as two separate events of the same pass.
Tests: tests/internet/test_kqreactor.py and, where kqueue exists, the conformance suite.
"""

from __future__ import annotations

import selectors
import sys

from torsion.internet._pollers import SelectorsPoller
from torsion.internet._selectorreactor import SelectorReactor, installSelectorReactor

__all__ = ["KQueueReactor", "install"]

# The platform test lets type checkers on Linux and Windows skip the rest of the module.
if sys.platform in ("linux", "win32") or not hasattr(selectors, "KqueueSelector"):
    raise ImportError(
        "kqueue is only available on the BSDs and macOS; use "
        "torsion.internet.default.install() to get the best reactor for this platform"
    )


class KQueueReactor(SelectorReactor):
    """A reactor polling with kqueue (``selectors.KqueueSelector``)."""

    @staticmethod
    def pollerFactory() -> SelectorsPoller:
        return SelectorsPoller(selectors.KqueueSelector())


def install() -> KQueueReactor:
    """Make a new KQueueReactor the global reactor and return it.

    Raises:
        ReactorAlreadyInstalledError: if a reactor is installed already.
    """
    return installSelectorReactor(KQueueReactor)
