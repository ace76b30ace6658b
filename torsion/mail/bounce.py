"""Delivery status notifications (RFC 3464): the bounce sent back when mail cannot go.

``generateBounce`` builds a ``multipart/report`` message: a human-readable part, a
``message/delivery-status`` part with one block per failed recipient, and the
original message's headers (not its body: a bounce must not carry a large message
back, nor be a way to reflect content at someone). The relay queue sends it, from the
null sender ``<>``, to the original sender.
Tests: tests/mail/test_relay_bounce.py.
"""

from __future__ import annotations

import email.utils
import secrets
import time
from collections.abc import Iterable
from typing import Any, BinaryIO

from torsion.mail._smtpcore import _asBytes, hostName, messageid

__all__ = ["BOUNCE_FORMAT", "generateBounce"]

# The first, human-readable part of a bounce.
BOUNCE_FORMAT = """\
This is the mail system at {host}.

Your message could not be delivered to one or more recipients. It was
given up after too many failed attempts, or the receiving server
refused it for good.

{details}
"""

# The most bytes of the original message's headers quoted back.
_MAX_QUOTED_HEADERS = 64 * 1024


def _headersOf(message: BinaryIO | bytes) -> bytes:
    data = message if isinstance(message, bytes) else message.read(_MAX_QUOTED_HEADERS + 4)
    data = data[: _MAX_QUOTED_HEADERS + 4].replace(b"\r\n", b"\n")
    end = data.find(b"\n\n")
    headers = data[:end] if end >= 0 else data[:_MAX_QUOTED_HEADERS]
    return headers.replace(b"\n", b"\r\n") + b"\r\n"


def _clean(value: bytes) -> bytes:
    return value.replace(b"\r", b" ").replace(b"\n", b" ")


def generateBounce(
    message: BinaryIO | bytes,
    failedFrom: bytes | str,
    failedTo: bytes | str | Iterable[Any],
    transcript: bytes | str = b"",
    encoding: str = "utf-8",
    reportingMTA: bytes | str | None = None,
    status: bytes | str = b"5.0.0",
) -> tuple[bytes, bytes, bytes]:
    """Build the bounce of ``message`` for its sender.

    Args:
        message: the original message (a binary file or bytes); only its headers are
            quoted.
        failedFrom: the original envelope sender, to whom the bounce goes.
        failedTo: the recipient(s) that failed, or ``(address, status, diagnostic)``
            triples to give each its own status and server answer.
        transcript: what happened (the last server reply, say), shown to the user.
        encoding: the charset of the human-readable part.
        reportingMTA: this server's name (default: the host name).
        status: the status code of recipients given without one (RFC 3463).

    Returns:
        ``(envelopeFrom, envelopeTo, bounceMessage)``: the null sender ``b""``, the
        address to send to, and the message bytes with CRLF line ends.
    """
    host = _asBytes(reportingMTA, "reportingMTA") if reportingMTA is not None else hostName()
    sender = _asBytes(failedFrom, "failedFrom")
    if isinstance(failedTo, bytes | str):
        failedTo = [failedTo]
    failures: list[tuple[bytes, bytes, bytes]] = []
    for item in failedTo:
        if isinstance(item, tuple):
            address, itemStatus, diagnostic = item
            failures.append(
                (
                    _asBytes(address, "address"),
                    _asBytes(itemStatus, "status"),
                    _asBytes(diagnostic, "diagnostic"),
                )
            )
        else:
            failures.append(
                (
                    _asBytes(item if isinstance(item, bytes | str) else str(item), "address"),
                    _asBytes(status, "status"),
                    b"",
                )
            )
    text = _asBytes(transcript, "transcript")
    boundary = b"bounce-" + secrets.token_hex(12).encode()
    details = "\n".join(
        f"<{a.decode('utf-8', 'replace')}>: {(d or text).decode('utf-8', 'replace')}"
        for a, _, d in failures
    )
    human = BOUNCE_FORMAT.format(host=host.decode("ascii", "replace"), details=details)
    now = email.utils.formatdate(time.time(), localtime=False).encode()
    out = [
        b"From: Mail Delivery System <MAILER-DAEMON@" + host + b">",
        b"To: <" + _clean(sender) + b">",
        b"Subject: Undelivered Mail Returned to Sender",
        b"Date: " + now,
        b"Message-ID: " + messageid(),
        b"Auto-Submitted: auto-replied",
        b"MIME-Version: 1.0",
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="'
        + boundary
        + b'"',
        b"",
        b"This is a MIME-encapsulated delivery status notification.",
        b"",
        b"--" + boundary,
        b"Content-Type: text/plain; charset=" + encoding.encode("ascii"),
        b"Content-Transfer-Encoding: 8bit",
        b"",
        *human.encode(encoding, "replace").splitlines(),
        b"--" + boundary,
        b"Content-Type: message/delivery-status",
        b"",
        b"Reporting-MTA: dns; " + host,
        b"Arrival-Date: " + now,
    ]
    for address, itemStatus, diagnostic in failures:
        out += [
            b"",
            b"Final-Recipient: rfc822; " + _clean(address),
            b"Action: failed",
            b"Status: " + _clean(itemStatus),
        ]
        if diagnostic or text:
            out.append(b"Diagnostic-Code: smtp; " + _clean(diagnostic or text)[:900])
    out += [
        b"",
        b"--" + boundary,
        b"Content-Type: text/rfc822-headers",
        b"",
    ]
    body = b"\r\n".join(out) + b"\r\n" + _headersOf(message) + b"\r\n--" + boundary + b"--\r\n"
    return b"", sender, body
