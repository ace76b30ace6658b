"""The ``mail`` plugin: ``torsiond mail --maildirdbmdomain DOMAIN=PATH --user NAME=PW ...``.

The options and the service are in torsion.mail.tap, imported only when used.
Tests: tests/mail/test_mailplugin.py.
"""

from torsion.application.service import ServiceMaker

mail = ServiceMaker(
    "torsion mail",
    "torsion.mail.tap",
    "An SMTP, POP3 and IMAP4 server over maildirs.",
    "mail",
)
