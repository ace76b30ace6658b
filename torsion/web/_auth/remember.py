"""RememberingChecker: good logins remembered a while, so a hash is not checked per request.

HTTP authentication sends the password with every request, and a salted hash costs
a quarter of a second of CPU to check by design; a page with twenty images would cost
twenty checks. This checker wraps another and remembers, for ``lifetime`` seconds,
that a user name and password were good: the same pair again is answered at once.

What is remembered is an HMAC-SHA256 of the pair under a random key that lives only
in memory (never the password), at most ``maxEntries`` of them (the oldest forgotten
first). A refused login is never remembered, so a wrong password costs the full check
every time. A changed or removed password still works for up to ``lifetime`` seconds
from its last check: the price of the speed. ``torsiond web --auth`` wraps checkers
of hashed passwords in it.
Tests: tests/web/guard/test_remember.py.
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict
from typing import Any

from zope.interface import implementer

from torsion.cred.checkers import ICredentialsChecker
from torsion.cred.credentials import IUsernamePassword
from torsion.internet.defer import Deferred, maybeDeferred, succeed
from torsion.web._auth._secrets import KeyedState

__all__ = ["RememberingChecker"]


@implementer(ICredentialsChecker)
class RememberingChecker(KeyedState):
    """``checker``, with its successful IUsernamePassword logins remembered.

    Args:
        checker: the checker to ask (its credentialInterfaces are this one's).
        lifetime: seconds a good login is remembered from its check.
        maxEntries: how many logins are remembered at most.
        reactor: what gives the time (``seconds()``); by default the monotonic clock.
    """

    _transient = ("_key", "_remembered")

    def __init__(
        self,
        checker: Any,
        lifetime: float = 120.0,
        maxEntries: int = 1000,
        reactor: Any = None,
    ) -> None:
        if lifetime <= 0 or maxEntries < 1:
            raise ValueError("lifetime must be positive and maxEntries at least 1")
        self.checker = checker
        self.credentialInterfaces = tuple(checker.credentialInterfaces)
        self.lifetime = lifetime
        self.maxEntries = maxEntries
        self._reactor = reactor
        self._setUp()

    def _setUp(self) -> None:
        self._key = secrets.token_bytes(32)
        self._remembered: OrderedDict[bytes, tuple[float, Any]] = OrderedDict()

    def requestAvatarId(self, credentials: Any) -> Deferred[Any]:
        """The remembered avatar id, or the wrapped checker's answer (remembered if good)."""
        if not IUsernamePassword.providedBy(credentials):
            return maybeDeferred(self.checker.requestAvatarId, credentials)
        username, password = credentials.username, credentials.password
        key = hmac.new(
            self._key, b"%d:%s%s" % (len(username), username, password), "sha256"
        ).digest()
        remembered = self._remembered.get(key)
        if remembered is not None:
            if remembered[0] > self._now():
                return succeed(remembered[1])
            del self._remembered[key]

        def good(avatarId: Any) -> Any:
            self._remembered[key] = (self._now() + self.lifetime, avatarId)
            self._remembered.move_to_end(key)
            while len(self._remembered) > self.maxEntries:
                self._remembered.popitem(last=False)
            return avatarId

        return maybeDeferred(self.checker.requestAvatarId, credentials).addCallback(good)

    def __repr__(self) -> str:
        return f"<RememberingChecker of {self.checker!r} for {self.lifetime:g} s>"
