"""The errors of torsion.cred: why a login did not give an avatar.

``UnauthorizedLogin`` is what a client may be told: its message never says whether the
user exists or the password was wrong (the checkers log the real reason on the server
instead), so a client cannot probe for user names.
Tests: tests/cred/test_portal.py, test_checkers.py.
"""

from __future__ import annotations

__all__ = ["LoginDenied", "LoginFailed", "UnauthorizedLogin", "UnhandledCredentials"]


class UnauthorizedLogin(Exception):
    """The credentials were not accepted: unknown user, wrong password, or refused."""

    def __str__(self) -> str:
        return super().__str__() or "invalid username or password"


class UnhandledCredentials(UnauthorizedLogin):
    """No checker of the portal accepts this kind of credentials (a server set-up error)."""

    def __str__(self) -> str:
        return Exception.__str__(self) or "no checker handles these credentials"


class LoginFailed(Exception):
    """The login could not be completed (the realm failed), as opposed to refused."""


class LoginDenied(LoginFailed):
    """The realm refused an avatar to an authenticated user."""
