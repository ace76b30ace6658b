"""A stand-in for torsion.persisted.sob, for the Application tests of a tree without it.

It has only what service.Application uses of sob: the IPersistable interface and the
``Persistent(original, name)`` component. The ``sob`` fixture (conftest.py) puts it in
place only when the real module cannot be imported, so the same tests run against the
real sob once it is there.
"""

from __future__ import annotations

from typing import Any

from zope.interface import Interface, implementer


class IPersistable(Interface):
    """Something that can be saved (the real interface has save and setStyle)."""


@implementer(IPersistable)
class Persistent:
    """The IPersistable component of an application: its original and its name."""

    def __init__(self, original: Any, name: str) -> None:
        self.original = original
        self.name = name
