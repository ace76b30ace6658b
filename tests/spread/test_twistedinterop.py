"""Wire compatibility with Twisted's PB: the two-process tests with a Twisted peer.

The child process runs Twisted 26's PB (in bench/.venv-twisted, or the interpreter
named by $TORSION_TWISTED_PYTHON; the tests skip, saying how to get one, where there
is none), this process runs torsion's. Both directions: a torsion client calling a
Twisted server (calls, references, copies, a live cache, errors, challenge-response
logins good and bad, the server vanishing mid-call) and a Twisted client calling a
torsion server (the same, plus the torsion server releasing everything of a Twisted
client that dies). The tests themselves are tests/spread/test_twoprocess.py's
``PeerTests``; only the peer differs. This process uses one reactor kind here: the
reactors' own differences are covered there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.spread.test_twoprocess import REACTORS, PeerTests, freshReactor


@pytest.fixture(params=REACTORS[:1])
def pbReactor(request: pytest.FixtureRequest) -> Iterator[Any]:
    with freshReactor(request.param) as made:
        yield made


class TestTwistedPeer(PeerTests):
    """The child runs Twisted."""

    framework = "twisted"
