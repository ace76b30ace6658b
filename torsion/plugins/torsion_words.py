"""The ``words`` plugin: ``torsiond words``, an IRC server (torsion.words.service).

The options and the service are in torsion.words.tap, imported only when used.
Tests: tests/words/test_wordsplugin.py.
"""

from torsion.application.service import ServiceMaker

words = ServiceMaker(
    "torsion words",
    "torsion.words.tap",
    "An IRC server: channels, private messages, logins through --auth.",
    "words",
)
