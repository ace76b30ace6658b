"""What torsion.mail.smtp's two sides share: addresses, errors, interfaces, helpers.

``Address`` and ``User`` (with the limits of RFC 5321 4.5.3.1), the error classes of
the server and the client, the interfaces a delivery implements, and the helpers for
headers (``rfc822date``, ``messageid``, ``quoteaddr``, xtext). The sans-IO parsers
are in ``_smtpparse``, the protocols in ``_smtpserver`` and ``_smtpclient``;
``torsion.mail.smtp`` re-exports the public names.
Tests: tests/mail/test_smtp_core.py (with hypothesis).
"""

from __future__ import annotations

import email.utils
import functools
import os
import re
import secrets
import socket
import time
from typing import Any

from zope.interface import Interface

__all__ = [
    "SUCCESS",
    "AUTHDeclinedError",
    "AUTHRequiredError",
    "Address",
    "AddressError",
    "AuthenticationError",
    "EHLORequiredError",
    "ESMTPClientError",
    "IClientAuthentication",
    "IMessage",
    "IMessageDelivery",
    "IMessageDeliveryFactory",
    "IMessageSMTP",
    "SMTPAddressError",
    "SMTPBadRcpt",
    "SMTPBadSender",
    "SMTPClientError",
    "SMTPConnectError",
    "SMTPDeliveryError",
    "SMTPError",
    "SMTPProtocolError",
    "SMTPServerError",
    "SMTPTLSError",
    "SMTPTimeoutError",
    "TLSRequiredError",
    "User",
    "messageid",
    "quoteaddr",
    "rfc822date",
    "xtext_decode",
    "xtext_encode",
]

# Reply codes that mean success, for the client's per-recipient results.
SUCCESS = frozenset(range(200, 300))

# RFC 5321 4.5.3.1: the longest local part, domain and path.
_MAX_LOCAL = 64
_MAX_DOMAIN = 255
_MAX_PATH = 256 + 2


def _asBytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{what} must be bytes or str, not {type(value).__name__}")


def _asText(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


# -- errors ------------------------------------------------------------------------------


class SMTPError(Exception):
    """The base of every SMTP error."""


class AddressError(SMTPError):
    """A mail address could not be parsed."""


class SMTPClientError(SMTPError):
    """The client could not do what it was asked: the server refused or failed.

    Args:
        code: the SMTP reply code (or -1 when there was no reply).
        resp: the reply text.
        log: the transcript of the conversation, when kept.
        addresses: the per-recipient results ``[(address, code, resp), ...]``.
        isFatal: the connection cannot go on (the client drops it).
        retry: a later attempt may succeed (a 4xx, a lost connection).
    """

    def __init__(
        self,
        code: int,
        resp: bytes | str,
        log: bytes | None = None,
        addresses: list[tuple[bytes, int, bytes]] | None = None,
        isFatal: bool = False,
        retry: bool = False,
    ) -> None:
        super().__init__(code, resp)
        self.code = code
        self.resp = resp
        self.log = log
        self.addresses = addresses
        self.isFatal = isFatal
        self.retry = retry

    def __str__(self) -> str:
        text = f"{self.code:03d} {_asText(self.resp)}" if self.code > 0 else _asText(self.resp)
        if self.log:
            text += "\n" + _asText(self.log)
        return text

    def __bytes__(self) -> bytes:
        return str(self).encode("utf-8")


class ESMTPClientError(SMTPClientError):
    """An ESMTP-specific failure of the client."""


class EHLORequiredError(ESMTPClientError):
    """The server does not speak ESMTP, and the client needs an extension."""


class AUTHRequiredError(ESMTPClientError):
    """Authentication is required but the server offers none of our mechanisms."""


class TLSRequiredError(ESMTPClientError):
    """Transport security is required but the server does not offer STARTTLS."""


class AUTHDeclinedError(ESMTPClientError):
    """The server refused every authentication mechanism we tried."""


class AuthenticationError(ESMTPClientError):
    """The server refused our credentials."""


class SMTPTLSError(ESMTPClientError):
    """STARTTLS failed: the server refused it, or the handshake failed."""


class SMTPConnectError(SMTPClientError):
    """The connection failed, or the server refused us at the greeting."""


class SMTPTimeoutError(SMTPClientError):
    """The server did not answer within the timeout."""


class SMTPProtocolError(SMTPClientError):
    """The server sent something that is not SMTP."""


class SMTPDeliveryError(SMTPClientError):
    """The server refused the message (or every recipient)."""


class SMTPServerError(SMTPError):
    """A refusal raised by server-side code, sent to the client as a reply.

    Raise it (or a subclass) from IMessageDelivery's methods or from an IMessage's
    ``eomReceived`` to choose the reply code and text the client sees.
    """

    def __init__(self, code: int, resp: bytes | str) -> None:
        super().__init__(code, resp)
        self.code = code
        self.resp = resp

    def __str__(self) -> str:
        return f"{self.code:03d} {_asText(self.resp)}"


class SMTPAddressError(SMTPServerError):
    """A refusal that concerns an address."""

    def __init__(self, addr: Any, code: int, resp: bytes | str) -> None:
        super().__init__(code, resp)
        self.addr = Address(addr)

    def __str__(self) -> str:
        return f"{self.code:03d} <{self.addr}>... {_asText(self.resp)}"


class SMTPBadRcpt(SMTPAddressError):
    """Raise from ``validateTo`` to refuse a recipient (550 unless told otherwise)."""

    def __init__(
        self,
        addr: Any,
        code: int = 550,
        resp: bytes | str = b"Cannot receive for specified address",
    ) -> None:
        super().__init__(addr, code, resp)


class SMTPBadSender(SMTPAddressError):
    """Raise from ``validateFrom`` to refuse a sender (550 unless told otherwise)."""

    def __init__(
        self, addr: Any, code: int = 550, resp: bytes | str = b"Sender not acceptable"
    ) -> None:
        super().__init__(addr, code, resp)


# -- addresses ---------------------------------------------------------------------------

_ATEXT = re.compile(
    rb"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\x80-\xff]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\x80-\xff]+)*\Z"
)
_QUOTED = re.compile(rb'"([\x20\x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\x20-\x7e])*"\Z')
_DOMAIN = re.compile(
    rb"[A-Za-z0-9\x80-\xff]([A-Za-z0-9\-\x80-\xff]*[A-Za-z0-9\x80-\xff])?(\.[A-Za-z0-9\x80-\xff]([A-Za-z0-9\-\x80-\xff]*[A-Za-z0-9\x80-\xff])?)*\.?\Z"
)
_LITERAL = re.compile(rb"\[[\x21-\x5a\x5e-\x7e]+\]\Z")
_ROUTE = re.compile(rb"(@[^,:@]+)(,@[^,:@]+)*:")
# The usual case, checked at once: <dot-atom@host.name> with the common characters.
_LABEL = rb"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_SIMPLE = re.compile(
    rb"([A-Za-z0-9_%+\-]+(?:\.[A-Za-z0-9_%+\-]+)*)@("
    + _LABEL
    + rb"(?:\."
    + _LABEL
    + rb"){0,126})\Z"
)


def _checkDomain(domain: bytes, whole: bytes) -> None:
    if len(domain) > _MAX_DOMAIN or not (_DOMAIN.match(domain) or _LITERAL.match(domain)):
        raise AddressError(f"{_asText(whole)!r}: {_asText(domain)!r} is not a domain")


class Address:
    """A mail address, as in a MAIL FROM or RCPT TO path: ``local@domain``.

    Takes ``b"<user@example.com>"``, ``"user@example.com"``, a source route (which is
    kept in ``route`` and ignored, as RFC 5321 says), another Address or a User.
    ``Address(b"<>")`` is the null reverse-path of bounces (local and domain empty).
    ``bytes()`` and ``str()`` give ``local@domain``.

    Args:
        addr: the address.
        defaultDomain: the domain given to an address that has none.

    Raises:
        AddressError: ``addr`` is not a valid address.
    """

    __slots__ = ("addrstr", "domain", "local", "route")

    def __init__(self, addr: Any, defaultDomain: bytes | str | None = None) -> None:
        if isinstance(addr, User):
            addr = addr.dest
        self.addrstr: bytes
        self.local: bytes
        self.domain: bytes
        self.route: bytes
        if isinstance(addr, Address):
            self.addrstr, self.local, self.domain, self.route = (
                addr.addrstr,
                addr.local,
                addr.domain,
                addr.route,
            )
            return
        raw = (
            addr
            if type(addr) is bytes
            else _asBytes(addr if isinstance(addr, bytes | str) else str(addr), "address")
        )
        self.addrstr = raw
        inner = raw[1:-1] if raw[:1] == b"<" and raw[-1:] == b">" else raw
        simple = _SIMPLE.match(inner)
        if simple is not None:
            local, domain = simple.group(1), simple.group(2)
            if len(local) <= _MAX_LOCAL and len(domain) <= _MAX_DOMAIN:
                self.local, self.domain, self.route = local, domain, b""
                return
        text = raw.strip()
        if len(text) > _MAX_PATH:
            raise AddressError(f"{_asText(text[:40])!r}...: an address is at most 256 bytes")
        if text.startswith(b"<"):
            if not text.endswith(b">"):
                raise AddressError(f"{_asText(text)!r}: '<' without '>'")
            text = text[1:-1]
        self.route = b""
        route = _ROUTE.match(text)
        if route:
            self.route, text = text[: route.end()], text[route.end() :]
        if not text:
            self.local = self.domain = b""
            return
        local, at, domain = text.rpartition(b"@")
        if not at:
            local, domain = text, b""
        if not local or not (_ATEXT.match(local) or _QUOTED.match(local)):
            raise AddressError(f"{_asText(raw)!r} is not a valid mail address")
        if len(local) > _MAX_LOCAL:
            raise AddressError(f"{_asText(raw)!r}: the local part is longer than 64 bytes")
        if domain:
            _checkDomain(domain, raw)
        elif at:
            raise AddressError(f"{_asText(raw)!r} has an empty domain")
        elif defaultDomain is not None:
            domain = _asBytes(defaultDomain, "defaultDomain")
        self.local = local
        self.domain = domain

    def dequote(self, addr: bytes) -> bytes:
        """Return a quoted local part (``"a b"``) without its quotes and backslashes."""
        if addr.startswith(b'"') and addr.endswith(b'"') and len(addr) >= 2:
            return re.sub(rb"\\(.)", rb"\1", addr[1:-1])
        return addr

    def __bytes__(self) -> bytes:
        if self.domain:
            return self.local + b"@" + self.domain
        return self.local

    def __str__(self) -> str:
        return bytes(self).decode("utf-8", "replace")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({bytes(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Address):
            return (self.local, self.domain.lower()) == (other.local, other.domain.lower())
        if isinstance(other, bytes | str):
            return bytes(self) == _asBytes(other, "address")
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.local, self.domain.lower()))


class User:
    """A recipient as the server saw it: what ``IMessageDelivery.validateTo`` gets.

    Attributes:
        dest: the recipient's Address.
        helo: ``(client's HELO name, client's IP address)``.
        protocol: the server protocol instance.
        orig: the sender's Address (the MAIL FROM).
    """

    __slots__ = ("dest", "helo", "orig", "protocol")

    def __init__(self, destination: Any, helo: Any, protocol: Any, orig: Any) -> None:
        self.dest = Address(destination)
        self.helo = helo
        self.protocol = protocol
        self.orig = orig

    def __str__(self) -> str:
        return str(self.dest)

    def __bytes__(self) -> bytes:
        return bytes(self.dest)

    def __repr__(self) -> str:
        return f"<User to {self.dest} from {self.orig}>"


def quoteaddr(addr: Any) -> bytes:
    """Return ``addr`` as a path for MAIL FROM / RCPT TO: ``b"<local@domain>"``.

    An address that does not parse (a display name with an address, say) is run
    through ``email.utils.parseaddr`` first; anything else is put in brackets as is.
    """
    if isinstance(addr, Address | User):
        return b"<" + bytes(Address(addr)) + b">"
    raw = _asBytes(addr if isinstance(addr, bytes | str) else str(addr), "address")
    _, parsed = email.utils.parseaddr(raw.decode("utf-8", "surrogateescape"))
    if parsed:
        raw = parsed.encode("utf-8", "surrogateescape")
    try:
        return b"<" + bytes(Address(raw)) + b">"
    except AddressError:
        return b"<" + raw.strip(b"<>") + b">"


# -- interfaces --------------------------------------------------------------------------


class IMessage(Interface):
    """One message being received for one recipient (what ``validateTo`` makes)."""

    def lineReceived(line: bytes) -> None:
        """Take one line of the message, without its CRLF, already dot-unstuffed."""

    def eomReceived() -> Any:
        """The message is complete: return a Deferred that fires once it is stored.

        A failure (an SMTPServerError chooses the reply code) refuses the message.
        """

    def connectionLost() -> None:
        """The message was abandoned (connection lost, too big): forget what was kept."""


IMessageSMTP = IMessage


class IMessageDelivery(Interface):
    """Decides who may send and receive mail through a server, and where it goes."""

    def receivedHeader(helo: tuple[bytes, bytes], origin: Address, recipients: list[User]) -> bytes:
        """Return the Received: header line(s) to put at the top of the message.

        Args:
            helo: the client's HELO/EHLO name and its IP address.
            origin: the sender's address.
            recipients: the accepted recipients (User objects).
        """

    def validateFrom(helo: tuple[bytes, bytes], origin: Address) -> Any:
        """Accept the sender: return the Address (or a Deferred of it).

        Raise (or fail with) SMTPBadSender to refuse it.
        """

    def validateTo(user: User) -> Any:
        """Accept a recipient: return a callable (or a Deferred of one) that makes its
        IMessage when DATA starts.

        Raise (or fail with) SMTPBadRcpt to refuse the recipient.
        """


class IMessageDeliveryFactory(Interface):
    """Makes an IMessageDelivery for each message a server receives."""

    def getMessageDelivery() -> Any:
        """Return the IMessageDelivery for one message."""


class IClientAuthentication(Interface):
    """A client's side of one SASL mechanism (PLAIN, LOGIN, CRAM-MD5)."""

    def getName() -> bytes:
        """Return the mechanism's name, as the server advertises it."""

    def challengeResponse(secret: bytes, challenge: bytes) -> bytes:
        """Return the answer to the server's (decoded) ``challenge``."""


class IChallengeResponse(Interface):
    """A server's side of one SASL mechanism: the credentials it builds up."""

    def getChallenge() -> bytes:
        """Return the next challenge to send (decoded)."""

    def setResponse(response: bytes) -> None:
        """Take the client's (decoded) answer to the last challenge."""

    def moreChallenges() -> bool:
        """Return whether another challenge is to be sent."""


# -- header helpers ----------------------------------------------------------------------


@functools.cache
def hostName() -> bytes:
    """Return this host's fully qualified name, for greetings and Message-IDs."""
    name = socket.getfqdn()
    try:
        return name.encode("idna") if name else b"localhost"
    except UnicodeError:
        return b"localhost"


_dateCache: dict[bool, tuple[int, bytes]] = {}


def rfc822date(timeinfo: Any = None, local: bool = True) -> bytes:
    """Return a date for a Date: or Received: header (RFC 5322), e.g.
    ``b"Wed, 02 Dec 2026 06:20:00 +0000"``.

    Args:
        timeinfo: seconds since the epoch, a ``time.struct_time`` or None (now).
        local: in the local time zone (True) or UTC.
    """
    if timeinfo is None:
        now = int(time.time())
        cached = _dateCache.get(local)
        if cached is not None and cached[0] == now:
            return cached[1]
        value = email.utils.formatdate(now, localtime=local).encode("ascii")
        _dateCache[local] = (now, value)
        return value
    elif isinstance(timeinfo, time.struct_time | tuple):
        seconds = time.mktime(tuple(timeinfo)) if local else _timegm(tuple(timeinfo))
    else:
        seconds = float(timeinfo)
    return email.utils.formatdate(seconds, localtime=local).encode("ascii")


def _timegm(t: tuple[int, ...]) -> float:
    import calendar

    return float(calendar.timegm(t))


def messageid(uniq: bytes | str | None = None, N: Any = None) -> bytes:
    """Return a new, unique Message-ID value: ``b"<stamp.random.pid@host>"``.

    ``N`` is accepted for Twisted's signature and ignored: the id's uniqueness comes
    from 64 random bits, not from a counter.
    """
    suffix = b"" if uniq is None else b"." + _asBytes(uniq, "uniq")
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime()).encode()
    host = hostName()
    return b"<%s.%x.%d%s@%s>" % (stamp, secrets.randbits(64), os.getpid(), suffix, host)


def xtext_encode(s: bytes | str, errors: str | None = None) -> tuple[bytes, int]:
    """Encode ``s`` as xtext (RFC 3461): ``+XX`` for '+', '=' and bytes outside 33-126."""
    data = _asBytes(s, "xtext")
    out = bytearray()
    for byte in data:
        if byte in (0x2B, 0x3D) or not 33 <= byte <= 126:
            out += b"+%02X" % byte
        else:
            out.append(byte)
    return bytes(out), len(data)


def xtext_decode(s: bytes | str, errors: str | None = None) -> tuple[str, int]:
    """Decode xtext (RFC 3461); a '+' not followed by two hex digits is kept as is."""
    data = _asBytes(s, "xtext")
    decoded = re.sub(rb"\+([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), data)
    return decoded.decode("utf-8", "replace"), len(data)
