"""How each TLS connection's ssl.SSLObject is made, and what its failures mean.

Private to torsion.protocols.tls: ``sslObjectMaker`` turns whatever the user gave as
TLS options (a connection creator such as CertificateOptions, an old-style context
factory, an ``ssl.SSLContext``) into the function that makes each connection's TLS
object, refusing unusable ones with a clear error at once; ``describeSSLError`` turns
the ``ssl`` module's exceptions into the SSLError or CertificateVerificationError a
protocol's connectionLost receives, with a hint of what to do.
Tests: tests/protocols/test_tls.py.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

from torsion.internet import error

__all__ = ["describeSSLError", "sslObjectMaker"]


def describeSSLError(problem: BaseException, handshaking: bool, isClient: bool) -> error.SSLError:
    """Turn the ``ssl`` module's exception into the reason a TLS connection ended."""
    peer = "server" if isClient else "client"
    where = "TLS handshake failed" if handshaking else "TLS failed"
    if isinstance(problem, ssl.SSLCertVerificationError):
        code, message = problem.verify_code, problem.verify_message
        hint = _VERIFY_HINTS.get(code, "")
        text = f"{where}: the {peer}'s certificate was refused: {message}"
        return error.CertificateVerificationError(
            text + (f" ({hint})" if hint else ""), problem, code, message
        )
    reason = getattr(problem, "reason", None) or ""
    text = f"{where}: {problem}"
    for marks, hint in _REASON_HINTS:
        if any(mark in reason for mark in marks):
            text += " (" + hint.format(peer=peer) + ")"
            break
    return error.SSLError(text, problem)


# Hints by OpenSSL's X509_V_ERR_* code.
_VERIFY_HINTS = {
    18: "it is self-signed; to trust it, pass it as trustRoot",
    19: "its chain ends in a self-signed certificate that is not trusted; pass that "
    "authority as trustRoot",
    20: "its issuer is not trusted here; pass the issuing authority as trustRoot, or "
    "install it in the system's trust store",
    10: "it has expired; it must be renewed",
    9: "it is not valid yet; check both machines' clocks",
    62: "it was not issued for the host name asked for; connect with a name it is for",
    64: "it was not issued for the IP address asked for; connect with a name it is for",
}
# Hints by parts of OpenSSL's reason names.
_REASON_HINTS = (
    (
        ("VERSION_TOO_LOW", "UNSUPPORTED_PROTOCOL", "PROTOCOL_VERSION", "NO_PROTOCOLS"),
        "the {peer} offers only TLS versions this side refuses: both need TLS 1.2 or "
        "later unless insecurelyLowerMinimumTo says otherwise",
    ),
    (
        ("PEER_DID_NOT_RETURN_A_CERTIFICATE", "CERTIFICATE_REQUIRED"),
        "the server requires a client certificate: give one with clientCertificate",
    ),
    (
        ("ALERT_BAD_CERTIFICATE", "ALERT_UNKNOWN_CA", "ALERT_CERTIFICATE_UNKNOWN"),
        "the {peer} refused this side's certificate",
    ),
    (
        ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "RECORD_LAYER_FAILURE", "PACKET_LENGTH"),
        "the {peer} does not seem to speak TLS on this connection",
    ),
    (("NO_SHARED_CIPHER", "HANDSHAKE_FAILURE"), "the two sides share no cipher suite"),
)


def sslObjectMaker(contextFactory: Any, isClient: bool) -> Callable[[Any], ssl.SSLObject]:
    """How to make each connection's TLS object from what the user gave as its options.

    Accepted: a connection creator (``clientConnectionForTLS``/``serverConnectionForTLS``,
    as CertificateOptions and optionsForClientTLS's result have), an old-style context
    factory (``getContext()``), or an ``ssl.SSLContext``.

    Raises:
        TypeError: ``contextFactory`` is none of those.
        ValueError: an ``ssl.SSLContext`` made for the other side, or a client context
            that checks host names without knowing which.
    """
    side = "client" if isClient else "server"
    method = "clientConnectionForTLS" if isClient else "serverConnectionForTLS"
    creator = getattr(contextFactory, method, None)
    if creator is not None:
        return creator  # type: ignore[no-any-return]
    if isinstance(contextFactory, ssl.SSLContext):
        _checkContext(contextFactory, isClient)
        return lambda p: contextFactory.wrap_bio(
            p.incomingBIO, p.outgoingBIO, server_side=not isClient
        )
    getContext = getattr(contextFactory, "getContext", None)
    if getContext is not None:
        context = getContext()
        if not isinstance(context, ssl.SSLContext):
            raise TypeError(
                f"{contextFactory!r}.getContext() returned {type(context).__name__}; torsion "
                "needs an ssl.SSLContext (pyOpenSSL contexts are not used)"
            )
        _checkContext(context, isClient)
        return lambda p: getContext().wrap_bio(
            p.incomingBIO, p.outgoingBIO, server_side=not isClient
        )
    raise TypeError(
        f"{contextFactory!r} cannot set up TLS for a {side}: give CertificateOptions "
        "(servers), optionsForClientTLS(hostname) (clients), an ssl.SSLContext, or an "
        f"object with {method}(tlsProtocol) or getContext()"
    )


def _checkContext(context: ssl.SSLContext, isClient: bool) -> None:
    if isClient and context.protocol == ssl.PROTOCOL_TLS_SERVER:
        raise ValueError("this ssl.SSLContext is for servers (PROTOCOL_TLS_SERVER), not clients")
    if not isClient and context.protocol == ssl.PROTOCOL_TLS_CLIENT:
        raise ValueError("this ssl.SSLContext is for clients (PROTOCOL_TLS_CLIENT), not servers")
    if isClient and context.check_hostname:
        raise ValueError(
            "this ssl.SSLContext checks host names but is not told which name to check: "
            "use optionsForClientTLS(hostname) from torsion.internet.ssl"
        )
