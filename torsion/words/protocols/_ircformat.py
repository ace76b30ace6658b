"""mIRC text formatting: the control codes for bold, colours and the like.

IRC clients mark text up with control characters: ``\\x02`` bold, ``\\x1d`` italic,
``\\x1f`` underline, ``\\x1e`` strike-through, ``\\x11`` monospace, ``\\x16`` reverse,
``\\x0f`` reset, ``\\x03FG[,BG]`` colours (one or two digits each) and ``\\x04RRGGBB[,RRGGBB]``
hex colours. A bot usually wants the plain text: ``stripFormatting`` removes them all.
Import it from ``torsion.words.protocols.irc``.
Tests: tests/words/test_irc_ctcp.py (the formatting tests).
"""

from __future__ import annotations

import re

__all__ = ["stripFormatting"]

_FORMATTING = re.compile(
    r"\x03(?:\d{1,2}(?:,\d{1,2})?)?"
    r"|\x04(?:[0-9A-Fa-f]{6}(?:,[0-9A-Fa-f]{6})?)?"
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)


def stripFormatting(text: str) -> str:
    """Return ``text`` without mIRC formatting codes (colours, bold, ...)."""
    return _FORMATTING.sub("", text)
