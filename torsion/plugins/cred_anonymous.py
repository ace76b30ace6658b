"""The ``anonymous`` type of ``--auth``: ``--auth anonymous`` lets anyone in.

Tests: tests/cred/test_strcred.py.
"""

from __future__ import annotations

from typing import Any

from zope.interface import implementer

from torsion.cred.credentials import IAnonymous
from torsion.cred.strcred import ICheckerFactory, InvalidAuthArgumentString
from torsion.plugin import IPlugin


@implementer(ICheckerFactory, IPlugin)
class AnonymousCheckerFactory:
    """Anyone may log in without a name, as the anonymous avatar."""

    authType = "anonymous"
    authHelp = """Lets clients in without a user name or password, as the anonymous
    avatar; what that avatar may do is up to the program's realm. Give it together
    with another --auth to let users log in as well."""
    argStringFormat = ""
    credentialInterfaces = (IAnonymous,)

    def generateChecker(self, argstring: str = "") -> Any:
        """Return an AllowAnonymousAccess checker."""
        from torsion.cred.checkers import AllowAnonymousAccess

        if argstring:
            raise InvalidAuthArgumentString("it takes no arguments: give just --auth anonymous")
        return AllowAnonymousAccess()


theAnonymousCheckerFactory = AnonymousCheckerFactory()
