"""torsion.words: chat protocols (IRC, XMPP) and a chat service.

Twisted's ``twisted.words`` under torsion's name: ``torsion.words.protocols.irc`` (the
IRC codec, server-side base protocol and IRCClient), ``torsion.words.protocols.jabber``
(XMPP) and ``torsion.words.service`` (an IRC server on torsion.cred).
Tests: tests/words/.
"""
