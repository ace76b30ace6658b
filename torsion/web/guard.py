"""torsion.web.guard: HTTP authentication (Basic, Digest) and a login form, over cred.

Twisted's names, so ``from twisted.web.guard import ...`` ports by renaming:

- ``HTTPAuthSessionWrapper(portal, credentialFactories)``: a resource that
  authenticates each request with one of the factories and renders the avatar
  resource the portal's realm returns;
- ``BasicCredentialFactory(realm)``: RFC 7617 Basic (over TLS: the password is sent
  as typed);
- ``DigestCredentialFactory(algorithm, realm)``: RFC 7616 Digest, SHA-256 or MD5,
  with expiring, replay-checked nonces;
- ``SessionLoginWrapper(portal, ...)`` (ours): a login form instead of the browser's
  password dialog, the avatar kept in the session, with a logout URL and CSRF tokens.

See docs/web-guard.md.
Tests: tests/web/guard/.
"""

from __future__ import annotations

from torsion.web._auth.basic import BasicCredentialFactory
from torsion.web._auth.digest import DigestCredentialFactory, StaleNonce
from torsion.web._auth.login import LoginElement, LogoutElement, SessionLoginWrapper, logoutForm
from torsion.web._auth.wrapper import HTTPAuthSessionWrapper, UnauthorizedResource

__all__ = [
    "BasicCredentialFactory",
    "DigestCredentialFactory",
    "HTTPAuthSessionWrapper",
    "LoginElement",
    "LogoutElement",
    "SessionLoginWrapper",
    "StaleNonce",
    "UnauthorizedResource",
    "logoutForm",
]
