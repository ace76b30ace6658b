"""Chat protocols: ``irc`` (IRC client and server side) and ``jabber`` (XMPP).

Tests: tests/words/.
"""
