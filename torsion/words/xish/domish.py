"""Twisted's ``twisted.words.xish.domish`` names: the XML Element of torsion's xmlstream.

``Element`` and ``escapeToXml`` are torsion.protocols.xmlstream's; this module lets
code written against ``domish`` port by renaming its import.
Tests: tests/protocols/test_xmlstream.py.
"""

from torsion.protocols._xmlelement import Element, escapeToXml

__all__ = ["Element", "escapeToXml"]
