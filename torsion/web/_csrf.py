"""CSRF tokens tied to a browser's session, for forms that change something.

A cross-site request forgery is another site's page making the user's browser post
to this one, cookies and all. The defence: every form carries a token that only
pages of this site can know, derived from a secret kept in the user's session
(request.getSession()), and a submission without the right one is refused with 403.
The token is an HMAC of a purpose (the form's name) under a per-session random
secret, so it is the same for every render of a form in one session (several tabs
work), different for each form and each session, and it is compared in constant
time (hmac.compare_digest).

Tests: tests/web/forms/test_csrf.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
from typing import Any

from zope.interface import Attribute, Interface, implementer

from torsion.web.error import Error

__all__ = ["CSRF_FIELD", "CSRFError", "ICSRFSecret", "checkCSRFToken", "csrfToken"]

CSRF_FIELD = "_csrf"
"""The name of the hidden field that carries the token."""


class ICSRFSecret(Interface):
    """The per-session secret that CSRF tokens are made from (a session component)."""

    secret = Attribute("32 random bytes, made when the session first needs a token.")


@implementer(ICSRFSecret)
class _CSRFSecret:
    __slots__ = ("secret",)

    def __init__(self) -> None:
        self.secret = secrets.token_bytes(32)


class CSRFError(Error):
    """A form came without this session's token: answered 403 with a page saying why."""

    def __init__(self, explanation: str) -> None:
        page = (
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            "<title>403 Forbidden: form not accepted</title></head>"
            "<body><h1>This form was not accepted</h1>\n"
            f"<p>{html.escape(explanation)}</p>\n"
            "<p>If you filled it in yourself, go back, reload the page to get a fresh "
            "form and send it again. Your browser must accept this site's cookies.</p>"
            "</body></html>\n"
        )
        super().__init__(403, None, page.encode("utf-8"))
        self.explanation = explanation


def _secretOf(request: Any) -> bytes:
    getSession = getattr(request, "getSession", None)
    if getSession is None:
        raise TypeError(
            f"CSRF tokens are kept in the session, and {type(request).__name__} has no "
            "getSession(): serve the form from a torsion.web.server.Site, or turn the "
            "form's csrf off"
        )
    session = getSession()
    component = session.getComponent(ICSRFSecret)
    if component is None:
        component = _CSRFSecret()
        session.setComponent(ICSRFSecret, component)
    return bytes(component.secret)


def csrfToken(request: Any, purpose: str = "form") -> str:
    """The token for `purpose` in this request's session (made on first use)."""
    digest = hmac.new(
        _secretOf(request), b"torsion.web.forms csrf\0" + purpose.encode("utf-8"), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def checkCSRFToken(request: Any, token: str | bytes | None, purpose: str = "form") -> None:
    """Check that `token` is this session's token for `purpose`.

    Raises:
        CSRFError: if it is missing or wrong (a 403 page, when a resource raises it).
    """
    if not token:
        raise CSRFError(
            "The form came without its security token, so it may have been sent by "
            "another site on your behalf."
        )
    if isinstance(token, str):
        token = token.encode("utf-8", "replace")
    expected = csrfToken(request, purpose).encode("ascii")
    if not hmac.compare_digest(token, expected):
        raise CSRFError(
            "The form's security token does not match your session: the session may "
            "have expired, or the form was sent by another site on your behalf."
        )
