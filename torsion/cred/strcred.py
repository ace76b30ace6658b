"""``--auth TYPE:ARGUMENTS``: checkers described by strings, as servers' options take them.

``makeChecker("memory:alice:s3cret")`` or ``makeChecker("file:/etc/myapp/passwd")``
returns a credentials checker. The types are plugins providing ``ICheckerFactory``,
found with ``torsion.plugin.getPlugins`` (torsion's own are in
torsion/plugins/cred_*.py): ``memory``, ``file`` and ``anonymous``. (Twisted's
``unix`` type, checking /etc/shadow, is left out: it needs root and the ``crypt``
module Python 3.13 removed.) Another package adds a type by shipping a plugin.

``AuthOptionMixin`` gives a ``usage.Options`` subclass ``--auth`` (repeatable),
``--help-auth`` and ``--help-auth-type TYPE``; the checkers land in
``options["credCheckers"]`` and, by credentials interface, ``options["credInterfaces"]``,
ready for ``Portal(realm, options["credCheckers"])``. A bad description is a
UsageError that says what to type instead, and never repeats a password.
Tests: tests/cred/test_strcred.py.
"""

from __future__ import annotations

import functools
import sys
from typing import Any, TextIO

from zope.interface import Attribute, Interface

from torsion.python import usage

__all__ = [
    "AuthOptionMixin",
    "ICheckerFactory",
    "InvalidAuthArgumentString",
    "InvalidAuthType",
    "StrcredException",
    "UnsupportedInterfaces",
    "findCheckerFactories",
    "findCheckerFactory",
    "makeChecker",
]


class ICheckerFactory(Interface):
    """Makes a credentials checker from the ARGUMENTS part of ``TYPE:ARGUMENTS``."""

    authType = Attribute("The TYPE this factory answers to, e.g. 'file' (str).")
    authHelp = Attribute("A paragraph on what the checker does, for --help-auth-type.")
    argStringFormat = Attribute("The form of ARGUMENTS, e.g. '/path/to/passwd'.")
    credentialInterfaces = Attribute("The credentials interfaces its checkers check.")

    def generateChecker(argstring: str) -> Any:
        """Return an ICredentialsChecker for ``argstring`` (the text after ``TYPE:``).

        Raises:
            InvalidAuthArgumentString: ``argstring`` is wrong; the message says how.
        """


class StrcredException(Exception):
    """The base of strcred's errors."""


class InvalidAuthType(StrcredException):
    """No checker factory has this auth type."""


class InvalidAuthArgumentString(StrcredException):
    """The ARGUMENTS part does not suit the auth type; the message says what would."""


class UnsupportedInterfaces(StrcredException):
    """The checker checks no kind of credentials that this program can offer."""


def findCheckerFactories() -> list[Any]:
    """Return every installed ICheckerFactory plugin, sorted by auth type."""
    from torsion.plugin import getPlugins

    return sorted(getPlugins(ICheckerFactory), key=lambda f: str(f.authType))


def findCheckerFactory(authType: str) -> Any:
    """Return the checker factory for ``authType``.

    Raises:
        InvalidAuthType: there is none; the message lists the types there are.
    """
    factories = findCheckerFactories()
    for factory in factories:
        if factory.authType == authType:
            return factory
    known = ", ".join(str(f.authType) for f in factories) or "none installed"
    raise InvalidAuthType(f"unknown authentication type {authType!r} (the types are: {known})")


def makeChecker(description: str) -> Any:
    """Return the checker that ``TYPE:ARGUMENTS`` (or just ``TYPE``) describes.

    Raises:
        InvalidAuthType: an unknown TYPE.
        InvalidAuthArgumentString: ARGUMENTS that TYPE cannot use.
    """
    authType, _, argstring = description.partition(":")
    return findCheckerFactory(authType).generateChecker(argstring)


def _interfaceNames(interfaces: Any) -> str:
    return ", ".join(getattr(i, "__name__", str(i)) for i in interfaces)


class AuthOptionMixin:
    """Adds ``--auth``, ``--help-auth`` and ``--help-auth-type`` to a usage.Options.

    Mix it into an Options subclass (``class Options(usage.Options, AuthOptionMixin)``).
    Set ``supportedInterfaces`` to the credentials interfaces the program's protocol
    can offer (e.g. ``(IUsernamePassword,)``) to refuse checkers it could never use;
    None accepts any. ``self["credCheckers"]`` is the list of checkers given (empty
    without --auth) and ``self["credInterfaces"]`` maps each interface to its checkers.
    """

    supportedInterfaces: Any = None
    authOutput: TextIO | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Options subclasses dict, whose __init__ does not call on along the MRO, so a
        # mixin's own __init__ would be skipped in Twisted's order of bases
        # (usage.Options, AuthOptionMixin): each subclass's __init__ is wrapped instead,
        # so that the two keys exist from the start, whatever the order.
        super().__init_subclass__(**kwargs)
        original = cls.__init__

        @functools.wraps(original)
        def withCredKeys(self: AuthOptionMixin, *args: Any, **kw: Any) -> None:
            original(self, *args, **kw)
            self._cred()

        setattr(cls, "__init__", withCredKeys)  # noqa: B010

    def _cred(self) -> dict[str, Any]:
        options: dict[str, Any] = self  # type: ignore[assignment]
        options.setdefault("credCheckers", [])
        options.setdefault("credInterfaces", {})
        return options

    def _output(self) -> TextIO:
        return self.authOutput if self.authOutput is not None else sys.stdout

    def supportsInterface(self, interface: Any) -> bool:
        """Return whether this program can offer credentials of ``interface``."""
        return self.supportedInterfaces is None or interface in self.supportedInterfaces

    def supportsCheckerFactory(self, factory: Any) -> bool:
        """Return whether ``factory`` makes checkers this program can use."""
        return any(self.supportsInterface(i) for i in factory.credentialInterfaces)

    def addChecker(self, checker: Any) -> None:
        """Add ``checker`` for each supported interface it checks.

        Raises:
            UnsupportedInterfaces: it checks none of them.
        """
        supported = [i for i in checker.credentialInterfaces if self.supportsInterface(i)]
        if not supported:
            raise UnsupportedInterfaces(
                f"it checks {_interfaceNames(checker.credentialInterfaces)} credentials, "
                f"and this program offers only {_interfaceNames(self.supportedInterfaces)}"
            )
        options = self._cred()
        options["credCheckers"].append(checker)
        for interface in supported:
            options["credInterfaces"].setdefault(interface, []).append(checker)

    def _authTypes(self) -> list[Any]:
        return [f for f in findCheckerFactories() if self.supportsCheckerFactory(f)]

    def opt_auth(self, description: str) -> None:
        """Check logins with TYPE:ARGUMENTS, e.g. file:/path/passwd (repeatable; see
        --help-auth)."""
        authType = description.partition(":")[0]
        try:
            factory = findCheckerFactory(authType)
        except InvalidAuthType as e:
            raise usage.UsageError(f"--auth: {e}; see --help-auth") from None
        if not self.supportsCheckerFactory(factory):
            usable = ", ".join(str(f.authType) for f in self._authTypes()) or "none"
            raise usage.UsageError(
                f"--auth {authType}: this program cannot use it (it checks "
                f"{_interfaceNames(factory.credentialInterfaces)} credentials); the types "
                f"it can use are: {usable}"
            )
        try:
            checker = factory.generateChecker(description.partition(":")[2])
            self.addChecker(checker)
        except StrcredException as e:
            raise usage.UsageError(
                f"--auth {authType}: {e} (see --help-auth-type {authType})"
            ) from None

    def opt_help_auth(self) -> None:
        """Show the authentication types --auth takes, and exit."""
        out = self._output()
        out.write("Authentication types for --auth TYPE:ARGUMENTS:\n\n")
        for factory in self._authTypes():
            summary = " ".join(str(factory.authHelp).split("\n\n")[0].split())
            out.write(f"  {factory.authType:<12} {summary}\n")
        out.write("\nRun with --help-auth-type TYPE for the ARGUMENTS of a type.\n")
        out.flush()
        raise SystemExit(0)

    def opt_help_auth_type(self, authType: str) -> None:
        """Show how to use one authentication type of --auth, and exit."""
        try:
            factory = findCheckerFactory(authType)
        except InvalidAuthType as e:
            raise usage.UsageError(f"--help-auth-type: {e}") from None
        out = self._output()
        out.write(f"Usage: --auth {factory.authType}")
        if factory.argStringFormat:
            out.write(f":{factory.argStringFormat}")
        out.write("\n\n")
        for paragraph in str(factory.authHelp).strip().split("\n\n"):
            out.write(" ".join(paragraph.split()) + "\n\n")
        out.write(f"It checks: {_interfaceNames(factory.credentialInterfaces)}\n")
        if not self.supportsCheckerFactory(factory):
            out.write("This program cannot use it: it offers other kinds of credentials.\n")
        out.flush()
        raise SystemExit(0)
