"""torsion.words.protocols.jabber: XMPP (Jabber) clients and components.

``jid`` (addresses), ``xmlstream`` (streams, authenticators, initializers, IQ),
``sasl`` and ``sasl_mechanisms`` (login), ``client`` (client factory and a small
chat API), ``component`` (XEP-0114) and ``error`` (stream and stanza errors), with
Twisted's names. The guide is docs/words-xmpp.md.
Tests: tests/words/test_jabber*.py and tests/words/test_xmpp*.py.
"""
