"""CTCP: the client-to-client protocol tucked inside PRIVMSG and NOTICE text.

A CTCP message is text between two ``\\x01`` (X_DELIM) bytes: ``\\x01ACTION waves\\x01``.
Two quoting levels exist (from the original CTCP specification): the low level
(``lowQuote``/``lowDequote``, with ``\\x10`` M_QUOTE) keeps NUL, CR and LF out of a line,
and the CTCP level (``ctcpQuote``/``ctcpDequote``, with ``\\\\`` X_QUOTE) keeps X_DELIM
out of a CTCP message. ``ctcpExtract`` splits a message into its CTCP and its normal
parts; ``ctcpStringify`` builds the text of CTCP messages. Import these names from
``torsion.words.protocols.irc``.
Tests: tests/words/test_irc_ctcp.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypedDict

__all__ = [
    "CR",
    "LF",
    "M_QUOTE",
    "NL",
    "NUL",
    "SPC",
    "X_DELIM",
    "X_QUOTE",
    "CTCPMessages",
    "ctcpDequote",
    "ctcpExtract",
    "ctcpQuote",
    "ctcpStringify",
    "lowDequote",
    "lowQuote",
]

NUL = "\0"
CR = "\r"
NL = "\n"
LF = NL
SPC = " "
M_QUOTE = "\x10"
X_DELIM = "\x01"
X_QUOTE = "\\"

_LOW_QUOTE = str.maketrans(
    {M_QUOTE: M_QUOTE + M_QUOTE, NUL: M_QUOTE + "0", NL: M_QUOTE + "n", CR: M_QUOTE + "r"}
)
_LOW_DEQUOTE = {"0": NUL, "n": NL, "r": CR, M_QUOTE: M_QUOTE}
_CTCP_QUOTE = str.maketrans({X_QUOTE: X_QUOTE + X_QUOTE, X_DELIM: X_QUOTE + "a"})
_CTCP_DEQUOTE = {"a": X_DELIM, X_QUOTE: X_QUOTE}


def _dequote(text: str, escape: str, table: dict[str, str]) -> str:
    """Replace each ``escape`` + char by ``table[char]`` (or char itself); drop a lone end."""
    if escape not in text:
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == escape:
            i += 1
            if i < n:
                out.append(table.get(text[i], text[i]))
        else:
            out.append(c)
        i += 1
    return "".join(out)


def lowQuote(s: str) -> str:
    """Quote NUL, CR, LF and M_QUOTE so that ``s`` fits in one IRC line."""
    return s.translate(_LOW_QUOTE)


def lowDequote(s: str) -> str:
    """Undo ``lowQuote``."""
    return _dequote(s, M_QUOTE, _LOW_DEQUOTE)


def ctcpQuote(s: str) -> str:
    """Quote X_DELIM and X_QUOTE so that ``s`` fits inside one CTCP message."""
    return s.translate(_CTCP_QUOTE)


def ctcpDequote(s: str) -> str:
    """Undo ``ctcpQuote``."""
    return _dequote(s, X_QUOTE, _CTCP_DEQUOTE)


class CTCPMessages(TypedDict):
    """What ``ctcpExtract`` returns."""

    extended: list[tuple[str, str | None]]
    normal: list[str]


def ctcpExtract(message: str) -> CTCPMessages:
    """Split ``message`` into its CTCP messages and its normal text.

    Returns:
        ``{"extended": [(tag, data), ...], "normal": [text, ...]}``: each CTCP message
        dequoted and split at its first space (``data`` None if it has none), and the
        pieces of text between them; empty pieces are left out. An unterminated CTCP
        message at the end counts as one, as clients do.
    """
    pieces = message.split(X_DELIM)
    extended: list[tuple[str, str | None]] = []
    normal: list[str] = []
    for index, piece in enumerate(pieces):
        if not piece:
            continue
        if index % 2:
            tag, sep, data = ctcpDequote(piece).partition(SPC)
            extended.append((tag, data if sep else None))
        else:
            normal.append(piece)
    return {"extended": extended, "normal": normal}


def ctcpStringify(
    messages: Iterable[tuple[str, str | Sequence[str] | None]],
) -> str:
    """Build the text of CTCP messages from ``(tag, data)`` pairs.

    ``data`` may be None (just the tag), a string, or a sequence of words joined by
    spaces. Each message is CTCP-quoted and put between X_DELIMs.
    """
    out: list[str] = []
    for tag, data in messages:
        if data is None:
            body = tag
        elif isinstance(data, str):
            body = f"{tag} {data}"
        else:
            body = " ".join([tag, *data])
        out.append(X_DELIM + ctcpQuote(body) + X_DELIM)
    return "".join(out)
