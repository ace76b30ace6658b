"""torsion.words.xish: XML streams with event dispatch and path queries, for XMPP.

Tests: tests/words/test_jabberxish.py.
"""
