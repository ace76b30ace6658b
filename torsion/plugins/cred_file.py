"""The ``file`` type of ``--auth``: ``--auth file:/etc/myapp/passwd``.

Tests: tests/cred/test_strcred.py.
"""

from __future__ import annotations

import os
from typing import Any

from zope.interface import implementer

from torsion.cred.credentials import IUsernameHashedPassword, IUsernamePassword
from torsion.cred.strcred import ICheckerFactory, InvalidAuthArgumentString
from torsion.plugin import IPlugin


@implementer(ICheckerFactory, IPlugin)
class FileCheckerFactory:
    """A passwd-style file of user:password lines, passwords hashed or in the clear."""

    authType = "file"
    authHelp = """A file of USER:PASSWORD lines, read at each login, so edits take
    effect at once. A password that is an argon2id, scrypt or bcrypt hash is checked as
    one: write them with 'torsion passwd FILE USER'. Blank lines and lines starting
    with # are skipped. The file is checked when the program starts, and a malformed
    line is reported with its number."""
    argStringFormat = "PATH"
    credentialInterfaces = (IUsernamePassword, IUsernameHashedPassword)

    def generateChecker(self, argstring: str = "") -> Any:
        """Return a FilePasswordDB of the file, after checking that it reads."""
        from torsion.cred.checkers import FilePasswordDB, PasswordFileError

        if not argstring:
            raise InvalidAuthArgumentString(
                "give the password file's path, e.g. --auth file:/etc/myapp/passwd"
            )
        path = os.path.abspath(os.path.expanduser(argstring))
        if not os.path.exists(path):
            raise InvalidAuthArgumentString(
                f"the password file {path} does not exist; create it with "
                f"'torsion passwd {path} USERNAME'"
            )
        checker = FilePasswordDB(path)
        try:
            checker.checkFile()
        except PasswordFileError as e:
            raise InvalidAuthArgumentString(str(e)) from None
        return checker


theFileCheckerFactory = FileCheckerFactory()
