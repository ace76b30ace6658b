"""torsion.mail: SMTP, POP3 and IMAP4 servers and clients, maildirs and relaying.

``torsion.mail.smtp`` receives and sends mail, ``torsion.mail.relaymanager`` keeps the
queue of mail to relay, ``torsion.mail.maildir`` stores it, and ``torsion.mail.pop3``
and ``torsion.mail.imap4`` serve it to readers. Tests: tests/mail/.
"""
