"""HTTPAuthSessionWrapper: a resource tree behind HTTP authentication and a cred Portal.

Each request is authenticated on its own, as HTTP authentication is: the wrapper reads
the ``Authorization`` header, gives it to the credential factory of its scheme
(``Basic``, ``Digest``), logs the credentials in with ``portal.login(credentials, None,
IResource)``, and renders the avatar resource the realm returns for the rest of the
path; the realm's ``logout`` is called when the response is finished (or the client
leaves). A request without the header logs in as ``Anonymous()``, so a portal with
``AllowAnonymousAccess`` lets anyone in and one without asks for credentials.

What a client gets:

- no or refused credentials: 401 with one ``WWW-Authenticate`` challenge per factory;
- a header that is not ``scheme credentials``, or several Authorization headers: 400;
- a checker or realm that fails (not a refusal): 500, and the traceback is logged.

Malformed credentials never reach the checker and never cause a 500: the factories
raise LoginFailed for anything they cannot read, and the reason is logged (at info:
"refused Basic credentials from 127.0.0.1: ... not base64"), never a password.
Tests: tests/web/guard/test_wrapper.py, test_realclients.py, test_hostile.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from zope.interface import implementer

from torsion.cred.credentials import Anonymous
from torsion.cred.error import LoginFailed, Unauthorized, UnhandledCredentials
from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.web import resource
from torsion.web._auth.headers import formatChallenge
from torsion.web._responses import BAD_REQUEST, INTERNAL_SERVER_ERROR, UNAUTHORIZED
from torsion.web.resource import IResource
from torsion.web.util import DeferredResource

__all__ = ["HTTPAuthSessionWrapper", "UnauthorizedResource"]

_log = Logger("torsion.web.guard")
_AUTHORIZATION = re.compile(rb"[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:[ \t]+(.*?))?[ \t]*\Z", re.S)

_Extras = Sequence[tuple[Any, dict[str, bytes]]]


def _client(request: Any) -> str:
    address = request.getClientAddress()
    return str(getattr(address, "host", address))


class UnauthorizedResource(resource.Resource):
    """The 401 answer: a challenge from each factory, and a short page.

    Args:
        factories: the credential factories whose challenges to send.
        extras: (factory, parameters) pairs added to that factory's challenge, such
            as Digest's ``stale=true``.
    """

    isLeaf = True

    def __init__(self, factories: Iterable[Any], extras: _Extras = ()) -> None:
        super().__init__()
        self._credentialFactories = list(factories)
        self._extras = list(extras)

    def render(self, request: Any) -> bytes:
        request.setResponseCode(UNAUTHORIZED)
        for factory in self._credentialFactories:
            params = dict(factory.getChallenge(request))
            for owner, extra in self._extras:
                if owner is factory:
                    params.update(extra)
            request.responseHeaders.addRawHeader(
                b"www-authenticate", formatChallenge(factory.scheme, params)
            )
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return (
            b"<!DOCTYPE html>\n<html><head><title>401 - Unauthorized</title></head>"
            b"<body><h1>Unauthorized</h1>\n<p>This page needs a user name and a "
            b"password.</p></body></html>\n"
        )

    def getChildWithDefault(self, path: bytes, request: Any) -> Any:
        return self


@implementer(IResource)
class HTTPAuthSessionWrapper:
    """Puts the avatars of ``portal`` behind HTTP authentication.

    Args:
        portal: a cred Portal whose realm returns ``(IResource, resource, logout)``.
        credentialFactories: ICredentialFactory objects (BasicCredentialFactory,
            DigestCredentialFactory), in the order of preference their challenges are
            sent in; several may share a scheme (Digest with SHA-256 and with MD5).
    """

    isLeaf = False

    def __init__(self, portal: Any, credentialFactories: Iterable[Any]) -> None:
        self._portal = portal
        self._credentialFactories = list(credentialFactories)
        self._warnedUnhandled: set[str] = set()

    def render(self, request: Any) -> Any:
        """Authenticate, then render the avatar itself (the request's path ends here)."""
        return self._authorizedResource(request).render(request)

    def getChildWithDefault(self, path: bytes, request: Any) -> Any:
        """Authenticate, then let the avatar resource answer for ``path`` and below."""
        # The avatar answers for this segment too: give it back to the path.
        request.postpath.insert(0, request.prepath.pop())
        return self._authorizedResource(request)

    def putChild(self, path: bytes, child: Any) -> None:
        raise NotImplementedError(
            "HTTPAuthSessionWrapper has no children of its own: put them on the resource "
            "the portal's realm returns"
        )

    def _authorizedResource(self, request: Any) -> Any:
        values = request.requestHeaders.getRawHeaders(b"authorization")
        if not values:
            return DeferredResource(self._login(Anonymous(), request))
        if len(values) > 1:
            return resource.ErrorPage(
                BAD_REQUEST, "Bad Request", "The request has more than one Authorization header."
            )
        match = _AUTHORIZATION.match(values[0])
        if match is None:
            return resource.ErrorPage(
                BAD_REQUEST,
                "Bad Request",
                "The Authorization header is not an authentication scheme and credentials.",
            )
        scheme = match.group(1).lower()
        shown = scheme.decode("ascii").capitalize()
        factories = [f for f in self._credentialFactories if f.scheme.lower() == scheme]
        if not factories:
            _log.info(
                "Refused {scheme} credentials from {client}: this resource does not take "
                "that scheme",
                scheme=shown,
                client=_client(request),
            )
            return UnauthorizedResource(self._credentialFactories)
        response = match.group(2) or b""
        refusals: list[tuple[Any, LoginFailed]] = []
        for factory in factories:
            try:
                credentials = factory.decode(response, request)
            except LoginFailed as refusal:
                refusals.append((factory, refusal))
                continue
            except Exception:
                _log.failure(
                    "{factory!r} failed decoding credentials from {client}",
                    factory=factory,
                    client=_client(request),
                )
                return _serverError()
            return DeferredResource(self._login(credentials, request))
        # Each factory of the scheme refused; the one whose nonce merely went stale (or
        # else the first) says why.
        extras = [(f, dict(getattr(e, "challengeExtras", {}))) for f, e in refusals]
        stale = [e for _, e in refusals if getattr(e, "challengeExtras", None)]
        _log.info(
            "Refused {scheme} credentials from {client}: {reason}",
            scheme=shown,
            client=_client(request),
            reason=str(stale[0] if stale else refusals[0][1]),
        )
        return UnauthorizedResource(self._credentialFactories, extras)

    def _login(self, credentials: Any, request: Any) -> Any:
        d = self._portal.login(credentials, None, IResource)
        d.addCallbacks(
            self._loginSucceeded,
            self._loginFailed,
            callbackArgs=(request,),
            errbackArgs=(credentials, request),
        )
        return d

    def _loginSucceeded(self, result: Any, request: Any) -> Any:
        interface, avatar, logout = result
        request.notifyFinish().addBoth(_loggingOut(logout))
        if not IResource.providedBy(avatar):
            _log.error(
                "The realm gave {avatar!r}, which is not an IResource, for {interface!r}",
                avatar=avatar,
                interface=interface,
            )
            return _serverError()
        return avatar

    def _loginFailed(self, reason: Failure, credentials: Any, request: Any) -> Any:
        if reason.check(UnhandledCredentials) and not isinstance(credentials, Anonymous):
            # A portal without an anonymous checker is the usual case; a factory whose
            # credentials no checker takes is a set-up mistake, worth saying once.
            kind = type(credentials).__name__
            if kind not in self._warnedUnhandled:
                self._warnedUnhandled.add(kind)
                _log.warn(
                    "{kind} credentials reach no checker: {message}; give the portal a "
                    "checker for them, or remove their credential factory",
                    kind=kind,
                    message=reason.getErrorMessage(),
                )
            return UnauthorizedResource(self._credentialFactories)
        if reason.check(Unauthorized, LoginFailed):
            return UnauthorizedResource(self._credentialFactories)
        _log.failure(
            "Logging {credentials!r} in from {client} failed",
            reason,
            credentials=credentials,
            client=_client(request),
        )
        return _serverError()

    def __repr__(self) -> str:
        return f"<HTTPAuthSessionWrapper {self._portal!r} {self._credentialFactories!r}>"


def _serverError() -> resource.ErrorPage:
    return resource.ErrorPage(
        INTERNAL_SERVER_ERROR,
        "Internal Server Error",
        "An error occurred while checking the credentials; it has been logged.",
    )


def _loggingOut(logout: Callable[[], object]) -> Callable[[object], None]:
    def loggedOut(_: object) -> None:
        try:
            logout()
        except Exception:
            _log.failure("The realm's logout {logout!r} failed", logout=logout)

    return loggedOut
