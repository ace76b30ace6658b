"""KeyedState: the base of guard objects that hold a random key and per-login memory.

The Digest factory (nonces) and RememberingChecker (good logins) both keep a random
key and a table that mean nothing outside the running process. Saving them with an
application (a .tap) would write the key to disk, so they are left out, and an object
loaded back starts with a fresh key and an empty table. Both read time from an
optional reactor, falling back to the monotonic clock.
Tests: tests/web/guard/test_digest.py, tests/web/guard/test_remember.py.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar


class KeyedState:
    """State named in ``_transient`` is made by ``_setUp`` and never pickled."""

    _transient: ClassVar[tuple[str, ...]]
    _reactor: Any

    def _setUp(self) -> None:
        raise NotImplementedError

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for name in (*self._transient, "_reactor"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reactor = None
        self._setUp()

    def _now(self) -> float:
        if self._reactor is not None:
            return float(self._reactor.seconds())
        return time.monotonic()
