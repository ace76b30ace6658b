"""The ``memory`` type of ``--auth``: ``--auth memory:alice:s3cret:bob:hunter2``.

Tests: tests/cred/test_strcred.py.
"""

from __future__ import annotations

from typing import Any

from zope.interface import implementer

from torsion.cred.credentials import IUsernameHashedPassword, IUsernamePassword
from torsion.cred.strcred import ICheckerFactory, InvalidAuthArgumentString
from torsion.plugin import IPlugin


@implementer(ICheckerFactory, IPlugin)
class InMemoryCheckerFactory:
    """Users and passwords given on the command line, kept in memory in the clear."""

    authType = "memory"
    authHelp = """Users and passwords given on the command line, as user:password pairs
    separated by colons. For tests and demonstrations: the passwords are visible to
    anyone who can list the machine's processes, and cannot contain a colon. Use
    file:PATH with hashed passwords for real users."""
    argStringFormat = "USER:PASSWORD[:USER:PASSWORD...]"
    credentialInterfaces = (IUsernamePassword, IUsernameHashedPassword)

    def generateChecker(self, argstring: str = "") -> Any:
        """Return an InMemoryUsernamePasswordDatabaseDontUse with the pairs given."""
        from torsion.cred.checkers import InMemoryUsernamePasswordDatabaseDontUse

        fields = argstring.split(":") if argstring else []
        if not fields or len(fields) % 2:
            raise InvalidAuthArgumentString(
                "give user:password pairs, e.g. --auth memory:alice:s3cret:bob:hunter2 "
                f"(got {len(fields)} field(s), which is not a whole number of pairs)"
            )
        checker = InMemoryUsernamePasswordDatabaseDontUse()
        for index in range(0, len(fields), 2):
            if not fields[index]:
                raise InvalidAuthArgumentString(f"the user name of pair {index // 2 + 1} is empty")
            checker.addUser(fields[index], fields[index + 1])
        return checker


theInMemoryCheckerFactory = InMemoryCheckerFactory()
