"""DCC (direct client-to-client) offers: parsing the CTCP DCC requests IRC clients send.

A DCC offer arrives as CTCP text such as ``DCC SEND "my file.txt" 3232235777 5000
1024``: a type, an argument (a file name, or ``chat``), the offerer's address (an IPv4
address as one 32-bit number, as the old clients send it, or dotted or IPv6 text),
a port, and for SEND a size. ``parseDccOffer`` turns that into a ``DccOffer`` with
clear errors for malformed ones; ``dccParseAddress`` and ``dccDescribe`` are
Twisted's helpers. IRCClient's ``dcc_SEND``/``dcc_CHAT``/``dcc_RESUME``/``dcc_ACCEPT``
use them and call ``dccDoSend`` and friends; nothing connects anywhere by itself,
so an offer can never make a client open a connection it did not choose to.
Import these names from ``torsion.words.protocols.irc``.
Tests: tests/words/test_irc_client.py (the DCC tests).
"""

from __future__ import annotations

import ipaddress
import os
import shlex
from typing import IO, Any, NamedTuple

from torsion.words.protocols._irccodec import IRCBadMessage

__all__ = ["DccOffer", "dccDescribe", "dccParseAddress", "fileSize", "parseDccOffer"]


def dccParseAddress(address: str) -> str:
    """Return the address of a DCC offer as text.

    A decimal number is an IPv4 address in network order (``3232235777`` is
    ``192.168.1.1``); dotted IPv4 and IPv6 text are returned as they are.

    Raises:
        IRCBadMessage: ``address`` is none of these.
    """
    if "." in address or ":" in address:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise IRCBadMessage(f"the DCC address {address!r} is not an IP address") from None
        return address
    try:
        number = int(address)
    except ValueError:
        raise IRCBadMessage(f"the DCC address {address!r} is not an IP address") from None
    if not 0 <= number <= 0xFFFFFFFF:
        raise IRCBadMessage(f"the DCC address {address!r} is out of the IPv4 range")
    return str(ipaddress.IPv4Address(number))


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise IRCBadMessage(f"the DCC port {value!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise IRCBadMessage(f"the DCC port {port} is out of range 0-65535")
    return port


class DccOffer(NamedTuple):
    """One parsed DCC request.

    Attributes:
        type: ``SEND``, ``CHAT``, ``RESUME``, ``ACCEPT`` (upper case) or another.
        argument: the file name (``chat`` for CHAT).
        address: the offerer's IP address as text; ``""`` for RESUME and ACCEPT,
            which carry none.
        port: the port to connect to (0 for a passive/reverse offer).
        size: the file size for SEND (-1 if not given), the position for RESUME and
            ACCEPT, else -1.
        words: all the words of the request after the type, for the rest.
    """

    type: str
    argument: str
    address: str
    port: int
    size: int
    words: list[str]


def parseDccOffer(data: str) -> DccOffer:
    """Parse the data of a CTCP DCC request (what follows ``DCC``).

    File names may be quoted (``"a b.txt"``).

    Raises:
        IRCBadMessage: the request is empty, too short for its type, or has a bad
            address, port or position.
    """
    try:
        words = shlex.split(data)
    except ValueError as e:
        raise IRCBadMessage(f"the DCC request {data[:60]!r} cannot be split: {e}") from None
    if not words:
        raise IRCBadMessage("the DCC request is empty")
    kind = words[0].upper()
    rest = words[1:]
    if kind in ("RESUME", "ACCEPT"):
        if len(rest) < 3:
            raise IRCBadMessage(f"a DCC {kind} needs a file name, a port and a position: {data!r}")
        try:
            position = int(rest[2])
        except ValueError:
            raise IRCBadMessage(f"the DCC {kind} position {rest[2]!r} is not a number") from None
        return DccOffer(kind, rest[0], "", _port(rest[1]), position, rest)
    if len(rest) < 3:
        raise IRCBadMessage(f"a DCC {kind} needs an argument, an address and a port: {data!r}")
    address = dccParseAddress(rest[1])
    size = -1
    if kind == "SEND" and len(rest) >= 4:
        try:
            size = int(rest[3])
        except ValueError:
            size = -1
    return DccOffer(kind, rest[0], address, _port(rest[2]), size, rest)


def dccDescribe(data: str) -> str:
    """Describe a DCC request in words, for logs and users; unparsable ones as given."""
    try:
        offer = parseDccOffer(data)
    except IRCBadMessage:
        return data
    if offer.type == "SEND":
        size = f" of size {offer.size} bytes" if offer.size >= 0 else ""
        return f"SEND for file '{offer.argument}'{size} at host {offer.address}, port {offer.port}"
    if offer.type == "CHAT":
        return f"CHAT for host {offer.address}, port {offer.port}"
    return data


def fileSize(file: IO[Any]) -> int | None:
    """Return the size of an open file, or None if it cannot be told."""
    try:
        return os.fstat(file.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        pass
    try:
        here = file.tell()
        file.seek(0, os.SEEK_END)
        size = file.tell()
        file.seek(here)
        return size
    except (AttributeError, OSError, ValueError):
        return None
