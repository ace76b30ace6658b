"""How the chat service compares names: ASCII case folding (IRC's ``CASEMAPPING=ascii``).

Kept apart so that the realm (service.py) and the IRC connection (_ircserver.py,
_irccommands.py) share one rule without importing each other.
Tests: tests/words/test_service.py.
"""

from __future__ import annotations

__all__ = ["lowerName"]

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def lowerName(name: str) -> str:
    """``name`` as the service compares it: ASCII letters lowered, nothing else changed."""
    return name.translate(_ASCII_LOWER)
