"""Building SEARCH queries for IMAP4Client.search, with Twisted's ``Query``, ``Or`` and
``Not``: ``search(Query(unseen=True, subject="report"))``.

Strings are quoted (and sent as literals by the client when they are not ASCII),
dates may be ``datetime.date`` objects or IMAP's ``1-Feb-2026`` text, message sets
may be MessageSet objects or text. Tests: tests/mail/test_imapclient.py.
"""

from __future__ import annotations

import datetime
from typing import Any

__all__ = ["Not", "Or", "Query"]

_FLAGS = (
    "all", "answered", "deleted", "draft", "flagged", "new", "old", "recent", "seen",
    "unanswered", "undeleted", "undraft", "unflagged", "unseen",
)  # fmt: skip
_STRINGS = ("bcc", "body", "cc", "from", "subject", "text", "to", "keyword", "unkeyword")
_DATES = ("before", "on", "since", "sentbefore", "senton", "sentsince")
_NUMBERS = ("larger", "smaller")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _quote(value: Any) -> str:
    text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _date(value: Any) -> str:
    if isinstance(value, datetime.datetime):
        value = value.date()
    if isinstance(value, datetime.date):
        return f"{value.day}-{_MONTHS[value.month - 1]}-{value.year}"
    return str(value.decode("ascii") if isinstance(value, bytes) else value)


def Query(sorted: bool = False, **kwarg: Any) -> str:
    """One SEARCH query from keywords: flags (``unseen=True``), strings
    (``subject="x"``, ``from_="a"`` or ``**{"from": "a"}``), dates
    (``since=date(2026, 12, 1)``), sizes (``larger=10000``), ``header=("X-Spam",
    "yes")``, ``uid="1:5"``, ``messages="2:*"``. Keys are sorted when ``sorted``."""
    parts: list[str] = []
    items = _sorted(kwarg.items()) if sorted else kwarg.items()
    for rawKey, value in items:
        key = rawKey.rstrip("_").lower()
        if key in _FLAGS:
            if value:
                parts.append(key.upper())
        elif key in _STRINGS:
            parts.append(f"{key.upper()} {_quote(value)}")
        elif key in _DATES:
            parts.append(f"{key.upper()} {_date(value)}")
        elif key in _NUMBERS:
            parts.append(f"{key.upper()} {int(value)}")
        elif key == "header":
            name, text = value
            parts.append(f"HEADER {_quote(name)} {_quote(text)}")
        elif key == "uid":
            parts.append(f"UID {value}")
        elif key == "messages":
            parts.append(str(value))
        elif key == "not":
            parts.append(f"NOT {value}")
        else:
            raise TypeError(f"Query() got an unknown search key {rawKey!r}")
    if not parts:
        return "ALL"
    return parts[0] if len(parts) == 1 else "(" + " ".join(parts) + ")"


_sorted = sorted  # Query's argument ``sorted`` (Twisted's name) hides the builtin


def Or(*args: str) -> str:
    """Any of the queries (``OR`` nested as SEARCH needs it)."""
    if len(args) < 2:
        raise ValueError("Or() needs at least two queries")
    if len(args) == 2:
        return f"(OR {args[0]} {args[1]})"
    return f"(OR {args[0]} {Or(*args[1:])})"


def Not(query: str) -> str:
    """The messages the query does not match."""
    return f"(NOT {query})"
