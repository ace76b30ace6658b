"""IRCv3 capability negotiation and SASL PLAIN for IRCClient.

Set ``requestedCapabilities`` (``["server-time", "message-tags", "multi-prefix"]``)
and/or ``saslUsername``/``saslPassword`` on an IRCClient, and registration starts
with ``CAP LS 302``: the client asks for the capabilities the server offers among
those requested (plus ``sasl`` when it has credentials), authenticates with SASL
PLAIN if ``sasl`` was acknowledged, and ends with ``CAP END``, after which the server
welcomes it. A server that knows no CAP simply ignores it (or answers
ERR_UNKNOWNCOMMAND) and registration goes on. ``capabilities`` holds what the
server acknowledged; with ``message-tags`` or ``server-time``, the tags of each
message are on ``currentMessage.tags``.
Tests: tests/words/test_irc_client.py (the CAP and SASL tests) and test_irc_peer.py.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TYPE_CHECKING

from torsion.logger import Logger

_log = Logger()

# SASL payloads go in pieces of this many base64 bytes (IRCv3 sasl-3.1).
_SASL_CHUNK = 400


class _CapabilityMixin:
    """CAP and SASL for IRCClient (see the module docstring).

    Attributes:
        requestedCapabilities: the IRCv3 capabilities to ask for, if offered.
        saslUsername, saslPassword: credentials for SASL PLAIN (both or neither).
        capabilities: the capabilities the server acknowledged.
        serverCapabilities: what the server offered (name -> value, "" if none).
        saslAccount: the account name the server logged us in as (RPL_LOGGEDIN).
    """

    requestedCapabilities: Sequence[str] = ()
    saslUsername: str | None = None
    saslPassword: str | None = None
    capabilities: frozenset[str] = frozenset()
    saslAccount: str | None = None
    _capNegotiating = False

    if TYPE_CHECKING:

        def sendLine(self, line: str) -> None: ...

    def _wantsSasl(self) -> bool:
        return self.saslUsername is not None and self.saslPassword is not None

    def _startCapabilities(self) -> None:
        """Open capability negotiation if there is anything to negotiate."""
        self.capabilities = frozenset()
        self.serverCapabilities: dict[str, str] = {}
        if self.requestedCapabilities or self._wantsSasl():
            self._capNegotiating = True
            self.sendLine("CAP LS 302")

    def _endCapabilities(self) -> None:
        if self._capNegotiating:
            self._capNegotiating = False
            self.sendLine("CAP END")

    def irc_CAP(self, prefix: str, params: list[str]) -> None:
        """The server's answers to CAP LS/REQ (and cap-notify's NEW/DEL)."""
        if len(params) < 3:
            return
        sub = params[1].upper()
        more = len(params) > 3 and params[2] == "*"
        names = params[-1].split()
        if sub == "LS":
            for item in names:
                name, _, value = item.partition("=")
                self.serverCapabilities[name] = value
            if more or not self._capNegotiating:
                return
            wanted = [c for c in self.requestedCapabilities if c in self.serverCapabilities]
            mechanisms = self.serverCapabilities.get("sasl", "")
            if (
                self._wantsSasl()
                and "sasl" in self.serverCapabilities
                and (not mechanisms or "PLAIN" in mechanisms.upper().split(","))
            ):
                wanted.append("sasl")
            if wanted:
                self.sendLine("CAP REQ :" + " ".join(wanted))
            else:
                self._endCapabilities()
        elif sub == "ACK":
            acked = set(self.capabilities)
            for name in names:
                if name.startswith("-"):
                    acked.discard(name[1:])
                else:
                    acked.add(name)
            self.capabilities = frozenset(acked)
            if not self._capNegotiating:
                return
            if "sasl" in acked and self._wantsSasl():
                self.sendLine("AUTHENTICATE PLAIN")
            else:
                self._endCapabilities()
        elif sub == "NAK":
            self._endCapabilities()
        elif sub == "NEW":
            for item in names:
                name, _, value = item.partition("=")
                self.serverCapabilities[name] = value
        elif sub == "DEL":
            for name in names:
                self.serverCapabilities.pop(name, None)
            self.capabilities = self.capabilities - set(names)

    def irc_AUTHENTICATE(self, prefix: str, params: list[str]) -> None:
        """The server is ready for our SASL PLAIN credentials."""
        if not params or params[0] != "+" or not self._wantsSasl():
            return
        user, password = self.saslUsername or "", self.saslPassword or ""
        payload = base64.b64encode(f"{user}\0{user}\0{password}".encode()).decode("ascii")
        for start in range(0, len(payload), _SASL_CHUNK):
            self.sendLine("AUTHENTICATE " + payload[start : start + _SASL_CHUNK])
        if len(payload) % _SASL_CHUNK == 0:
            self.sendLine("AUTHENTICATE +")

    def irc_RPL_LOGGEDIN(self, prefix: str, params: list[str]) -> None:
        """The server logged us in to an account."""
        if len(params) >= 3:
            self.saslAccount = params[2]

    def irc_RPL_SASLSUCCESS(self, prefix: str, params: list[str]) -> None:
        """SASL worked: finish registering."""
        self._endCapabilities()

    def _saslFailed(self, prefix: str, params: list[str]) -> None:
        _log.warn(
            "SASL authentication as {user} failed: {reason}; registering without it",
            user=self.saslUsername,
            reason=params[-1] if params else "",
        )
        self.saslFailed(params[-1] if params else "")
        self._endCapabilities()

    irc_ERR_SASLFAIL = _saslFailed
    irc_ERR_SASLTOOLONG = _saslFailed
    irc_ERR_SASLABORTED = _saslFailed
    irc_ERR_SASLALREADY = _saslFailed

    def saslFailed(self, reason: str) -> None:
        """SASL authentication failed (registration goes on without an account)."""
