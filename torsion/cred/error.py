"""The errors of torsion.cred: why a login did not give an avatar.

``UnauthorizedLogin`` is what a client may be told: its message never says whether the
user exists or the password was wrong (the checkers log the real reason on the server
instead), so a client cannot probe for user names.
Tests: tests/cred/test_portal.py, test_checkers.py.
"""

from __future__ import annotations

__all__ = [
    "LoginDenied",
    "LoginFailed",
    "Unauthorized",
    "UnauthorizedLogin",
    "UnhandledCredentials",
]


class Unauthorized(Exception):
    """Access was refused (the general kind, of which a refused login is one)."""


class LoginFailed(Exception):
    """A login did not give an avatar: the base of the login errors."""


class UnauthorizedLogin(LoginFailed, Unauthorized):
    """The credentials were not accepted: unknown user, wrong password, or refused."""

    def __str__(self) -> str:
        return super().__str__() or "invalid username or password"


class UnhandledCredentials(UnauthorizedLogin):
    """No checker of the portal handles this kind of credentials (a set-up error).

    Twisted derives it from LoginFailed only; torsion also from UnauthorizedLogin, so
    that a protocol which catches UnauthorizedLogin refuses such a login as well.
    """

    def __str__(self) -> str:
        return Exception.__str__(self) or "no checker handles these credentials"


class LoginDenied(LoginFailed):
    """The realm refused an avatar to a user whose credentials were good."""
