"""The sans-IO IRC line codec: bytes in, IRCMessage out, and the way back.

An IRC message (RFC 1459, RFC 2812, IRCv3 message tags) is one line::

    [@tags SPACE] [:prefix SPACE] command [SPACE params] [SPACE :trailing] CRLF

``LineFramer`` cuts a byte stream into lines and drops overlong ones whole (the tail of
an overlong line is never taken for a command); ``parseMessage`` turns one line into an
``IRCMessage``; ``formatMessage`` does the reverse, quoting the last parameter and
escaping tag values. Nothing here touches a transport, so the whole codec is tested
(and fuzzed with hypothesis) without sockets. Import these names from
``torsion.words.protocols.irc``.

Limits (IRCv3): the tag section, from the ``@`` to its space, may have up to 8191
bytes; the rest of the line up to 510 bytes (512 with the CRLF). Lines that are not
UTF-8 are decoded as Latin-1 (what IRC clients do for legacy peers), so any byte
sequence decodes; an empty line, a prefix without a command or a command that is not
letters or three digits raises ``IRCBadMessage``.

Tests: tests/words/test_irc_codec.py (examples and hypothesis properties).
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple, cast

__all__ = [
    "CHANNEL_PREFIXES",
    "MAX_BODY_LENGTH",
    "MAX_COMMAND_LENGTH",
    "MAX_TAGS_LENGTH",
    "IRCBadMessage",
    "IRCLineTooLong",
    "IRCMessage",
    "LineFramer",
    "decodeLine",
    "escapeTagValue",
    "formatMessage",
    "formatTags",
    "parseMessage",
    "parseTags",
    "parsemsg",
    "split",
    "unescapeTagValue",
]

# The longest line RFC 1459 allows, CRLF included (Twisted's name).
MAX_COMMAND_LENGTH = 512
# The longest body: the line without its tag section and without the CRLF.
MAX_BODY_LENGTH = MAX_COMMAND_LENGTH - 2
# The longest tag section, from the "@" to the space after the tags (IRCv3).
MAX_TAGS_LENGTH = 8191
# The characters that start a channel name (RFC 2812 1.3).
CHANNEL_PREFIXES = "&#!+"


class IRCBadMessage(Exception):
    """A line is not an IRC message (empty, no command, a bad command or tag)."""


class IRCLineTooLong(IRCBadMessage):
    """A line, or its tag section, is longer than the limits allow."""


class IRCMessage(NamedTuple):
    """One parsed IRC message.

    Attributes:
        tags: the IRCv3 message tags, unescaped; a tag sent without a value maps to
            ``""`` (IRCv3 says a missing and an empty value mean the same).
        prefix: the source (``nick!user@host`` or a server name), ``""`` if none.
        command: the command, upper case (``PRIVMSG``) or a three-digit numeric.
        params: the parameters, the trailing one (after `` :``) last.
    """

    tags: dict[str, str]
    prefix: str
    command: str
    params: list[str]


# -- tags ---------------------------------------------------------------------------------

_UNESCAPE = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_ESCAPE = str.maketrans({";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"})


def escapeTagValue(value: str) -> str:
    """Escape a tag value for the wire (``;`` space ``\\`` CR LF)."""
    return value.translate(_ESCAPE)


def unescapeTagValue(value: str) -> str:
    """Undo ``escapeTagValue``; an unknown escape stands for the character itself.

    A lone backslash at the end is dropped, as IRCv3 says.
    """
    if "\\" not in value:
        return value
    out: list[str] = []
    i = 0
    n = len(value)
    while i < n:
        c = value[i]
        if c == "\\":
            i += 1
            if i < n:
                nxt = value[i]
                out.append(_UNESCAPE.get(nxt, nxt))
        else:
            out.append(c)
        i += 1
    return "".join(out)


_TAG_KEY = re.compile(r"\+?(?:[A-Za-z0-9.-]+/)?[A-Za-z0-9-]+")


def _validTagKey(key: str) -> bool:
    """An IRCv3 key: ``[+][vendor/]name``, name of ASCII letters, digits and '-'."""
    return _TAG_KEY.fullmatch(key) is not None


def parseTags(section: str) -> dict[str, str]:
    """Parse a tag section (without the ``@``) into a dict of unescaped values.

    Tags whose key is not valid are ignored (a server may not trust them and a client
    cannot use them); of two tags with one key the last wins.
    """
    tags: dict[str, str] = {}
    for item in section.split(";"):
        key, _, value = item.partition("=")
        if _validTagKey(key):
            tags[key] = unescapeTagValue(value)
    return tags


def formatTags(tags: Mapping[str, str | None]) -> str:
    """Format tags for the wire (without the ``@``); None or ``""`` means no value.

    Raises:
        ValueError: a key is not a valid tag name.
    """
    parts = []
    for key, value in tags.items():
        if not _validTagKey(key):
            raise ValueError(
                f"{key!r} is not a valid IRCv3 tag name: use letters, digits and '-', "
                f"optionally a 'vendor.example/' prefix and a '+' for client tags"
            )
        parts.append(f"{key}={escapeTagValue(value)}" if value else key)
    return ";".join(parts)


# -- lines ---------------------------------------------------------------------------------


def decodeLine(line: bytes, encoding: str = "utf-8", fallbackEncoding: str = "latin-1") -> str:
    """Decode a received line; if it is not ``encoding``, use ``fallbackEncoding``.

    Latin-1 maps every byte, so with the default fallback decoding never fails.
    """
    try:
        return line.decode(encoding)
    except UnicodeDecodeError:
        return line.decode(fallbackEncoding, "replace")


def _isCommand(command: str) -> bool:
    if command.isdigit():
        return len(command) == 3 and command.isascii()
    return command.isascii() and command.isalpha()


def parseMessage(
    line: bytes | str,
    maxBodyLength: int = MAX_BODY_LENGTH,
    maxTagsLength: int = MAX_TAGS_LENGTH,
    encoding: str = "utf-8",
    fallbackEncoding: str = "latin-1",
) -> IRCMessage:
    """Parse one IRC line (without its CRLF; a trailing CR or LF is ignored).

    Lengths are checked in bytes on a bytes line, in characters on a str one. Extra
    spaces between parameters are tolerated, as most servers do; only spaces separate
    parameters (a tab is part of one).

    Raises:
        IRCLineTooLong: the tag section or the body is over its limit.
        IRCBadMessage: the line is empty, has no command, or the command is neither
            letters nor three digits.
    """
    if isinstance(line, bytes):
        if line[-1:] in _BYTE_ENDS:
            line = line.rstrip(b"\r\n")
        tagsLength = 0
        if line[:1] == b"@":
            space = line.find(b" ")
            tagsLength = len(line) if space < 0 else space + 1
        if tagsLength > maxTagsLength or len(line) - tagsLength > maxBodyLength:
            _checkLengths(len(line), tagsLength, maxBodyLength, maxTagsLength)
        try:
            text = line.decode(encoding)
        except UnicodeDecodeError:
            text = line.decode(fallbackEncoding, "replace")
    else:
        text = line.rstrip("\r\n")
        tagsLength = 0
        if text[:1] == "@":
            space = text.find(" ")
            tagsLength = len(text) if space < 0 else space + 1
        if tagsLength > maxTagsLength or len(text) - tagsLength > maxBodyLength:
            _checkLengths(len(text), tagsLength, maxBodyLength, maxTagsLength)
    return _parseText(text)


_BYTE_ENDS = (b"\r", b"\n")


def _checkLengths(size: int, tagsLength: int, maxBodyLength: int, maxTagsLength: int) -> None:
    if tagsLength > maxTagsLength:
        raise IRCLineTooLong(
            f"the tag section has {tagsLength} bytes, more than the limit of {maxTagsLength}"
        )
    if size - tagsLength > maxBodyLength:
        raise IRCLineTooLong(
            f"the line has {size - tagsLength} bytes without its tags, more than the limit "
            f"of {maxBodyLength}"
        )


_newMessage = tuple.__new__


def _parseText(text: str) -> IRCMessage:
    tags: dict[str, str] = {}
    if text[:1] == "@":
        section, _, text = text[1:].partition(" ")
        tags = parseTags(section)
        text = text.lstrip(" ")
    prefix = ""
    if text[:1] == ":":
        prefix, _, text = text[1:].partition(" ")
        text = text.lstrip(" ")
    if not text:
        if prefix or tags:
            raise IRCBadMessage("the message has a prefix or tags but no command")
        raise IRCBadMessage("the line is empty")
    head, sep, trailing = text.partition(" :")
    if not sep and text[:1] == ":":
        head, trailing, sep = "", text[1:], ":"
    params = head.split(" ")
    if "" in params:
        params = [word for word in params if word]
        if not params:
            raise IRCBadMessage("the message has no command")
    command = params.pop(0)
    if not (command.isalpha() and command.isascii()) and not (
        len(command) == 3 and command.isdigit() and command.isascii()
    ):
        raise IRCBadMessage(
            f"{command[:20]!r} is not an IRC command (letters, or a three-digit numeric)"
        )
    if sep:
        params.append(trailing)
    return _newMessage(IRCMessage, (tags, prefix, command.upper(), params))


def parsemsg(s: str) -> tuple[str, str, list[str]]:
    """Twisted's parser: return ``(prefix, command, params)`` of one line.

    Tags, if any, are skipped; the command keeps the case it was sent in, as in
    Twisted. Use ``parseMessage`` for the tags and the limits.

    Raises:
        IRCBadMessage: the line is empty or has no command.
    """
    text = s.rstrip("\r\n")
    if text.startswith("@"):
        text = text.partition(" ")[2].lstrip(" ")
    prefix = ""
    if text.startswith(":"):
        prefix, _, text = text[1:].partition(" ")
    head, sep, trailing = text.partition(" :")
    params = [word for word in head.split(" ") if word]
    if not params:
        raise IRCBadMessage(f"empty line or no command: {s[:40]!r}")
    command = params.pop(0)
    if sep:
        params.append(trailing)
    return prefix, command, params


_FORBIDDEN = ("\0", "\r", "\n")


def _checkText(what: str, value: str) -> None:
    if not isinstance(value, str):
        raise TypeError(f"the IRC {what} must be str, not {type(value).__name__}: {value!r}")
    for c in _FORBIDDEN:
        if c in value:
            raise ValueError(
                f"the IRC {what} {value[:40]!r} contains {c!r}, which would end or break "
                f"the line; remove it or split the text into several messages"
            )


def formatMessage(
    command: str,
    *params: str,
    prefix: str | None = None,
    tags: Mapping[str, str | None] | None = None,
) -> str:
    """Format one IRC message as a line without its CRLF.

    The last parameter is sent as the trailing one (``:`` in front) when it must be:
    when it is empty, contains a space or starts with ``:``. Every other parameter
    must be one non-empty word.

    Raises:
        ValueError: the command is not letters or three digits, a parameter other
            than the last is empty, has a space or starts with ``:``, or any part
            contains NUL, CR or LF (which would let text inject another command).
        TypeError: a part is not str.
    """
    return _format(command, params, prefix, tags, True)


def _joinParams(command: str, params: Sequence[str], quoteColon: bool) -> str:
    parts = [command, *params]
    for param in params[:-1]:
        if not param or " " in param or param[0] == ":":
            _checkText("parameter", param)
            raise ValueError(
                f"the IRC parameter {param!r} is empty, has a space or starts with ':'; "
                f"only the last parameter may, so make it the last one"
            )
    last = params[-1]
    if last[:1] == ":":
        if quoteColon:
            parts[-1] = ":" + last
    elif not last or " " in last:
        parts[-1] = ":" + last
    return " ".join(parts)


def _format(
    command: str,
    params: Sequence[str],
    prefix: str | None,
    tags: Mapping[str, str | None] | None,
    quoteColon: bool,
) -> str:
    """formatMessage's body; with ``quoteColon`` false a last parameter that starts
    with ``:`` is taken as already quoted (Twisted's callers write it that way)."""
    if not (isinstance(command, str) and _isCommand(command)):
        _checkText("command", command)
        raise ValueError(f"{command!r} is not an IRC command: use letters or a three-digit numeric")
    if params:
        try:
            line = _joinParams(command, params, quoteColon)
        except TypeError:
            for param in params:
                _checkText("parameter", param)
            raise
    else:
        line = command
    if prefix:
        if " " in prefix:
            _checkText("prefix", prefix)
            raise ValueError(f"the IRC prefix {prefix!r} contains a space")
        line = ":" + prefix + " " + line
    if tags:
        for value in tags.values():
            if value and "\0" in value:
                raise ValueError(f"the IRC tag value {value[:40]!r} contains NUL; remove it")
        line = "@" + formatTags(tags) + " " + line
    if "\n" in line or "\r" in line or "\0" in line:
        for what, part in (("prefix", prefix or ""), *(("parameter", p) for p in params)):
            _checkText(what, part)
    return line


class LineFramer:
    """Bytes in, lines out, with overlong lines dropped whole.

    ``feed`` returns the complete lines of what arrived so far, without their LF and
    without one CR before it (IRC peers end lines with CRLF, a few with LF alone).
    Each line longer than ``maxLength`` bytes is returned as None, once, and every byte
    of it is dropped up to its LF, so the end of an overlong line is never parsed as
    a message. At most ``maxLength + 1`` bytes of an incomplete line are buffered.
    """

    __slots__ = ("_buffer", "_discarding", "maxLength")

    def __init__(self, maxLength: int = MAX_TAGS_LENGTH + MAX_BODY_LENGTH) -> None:
        self.maxLength = maxLength
        self._buffer = b""
        self._discarding = False

    def feed(self, data: bytes) -> list[bytes | None]:
        """Add ``data``; return the lines it completes (None for an overlong one)."""
        buffer = self._buffer + data if self._buffer else data
        parts = buffer.split(b"\n")
        tail = parts.pop()
        limit = self.maxLength
        if parts and self._discarding:
            self._discarding = False
            del parts[0]
        if b"\r" in buffer:
            parts = [p[:-1] if p[-1:] == b"\r" else p for p in parts]
        if parts and max(map(len, parts)) > limit:
            out: list[bytes | None] = [p if len(p) <= limit else None for p in parts]
        else:
            out = cast("list[bytes | None]", parts)
        if self._discarding:
            self._buffer = b""
        elif len(tail) > limit + 1:
            out.append(None)
            self._discarding = True
            self._buffer = b""
        else:
            self._buffer = tail
        return out

    def __len__(self) -> int:
        """Return how many bytes of an incomplete line are buffered."""
        return len(self._buffer)


def split(str: builtins.str, length: int = 80) -> list[builtins.str]:
    """Split text into pieces of at most ``length`` characters, at spaces if possible.

    Lines are split first on newlines; a word longer than ``length`` is cut; empty
    pieces are left out (as Twisted's does). IRCClient.msg uses a variant that counts
    UTF-8 bytes, which is what the line limit counts.

    Raises:
        ValueError: ``length`` is less than 1.
    """
    if length < 1:
        raise ValueError(f"the length to split at must be at least 1, not {length}")
    pieces: list[builtins.str] = []
    for line in str.split("\n"):
        while len(line) > length:
            cut = line.rfind(" ", 0, length + 1)
            if cut <= 0:
                pieces.append(line[:length])
                line = line[length:]
            else:
                pieces.append(line[:cut])
                line = line[cut + 1 :]
        pieces.append(line)
    return [piece for piece in pieces if piece]
