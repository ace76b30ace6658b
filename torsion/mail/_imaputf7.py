"""Modified UTF-7 (RFC 3501 section 5.1.3), the encoding of IMAP mailbox names.

Printable ASCII stands for itself (``&`` is written ``&-``); anything else is UTF-16BE
in a modified base64 (``,`` for ``/``, no padding) between ``&`` and ``-``. The codec is
registered as ``imap4-utf-7`` (Twisted's name), so ``"Entwürfe".encode("imap4-utf-7")``
works once torsion.mail.imap4 is imported. Tests: tests/mail/test_imapparser.py.
"""

from __future__ import annotations

import base64
import binascii
import codecs

from torsion.mail._imapinterfaces import IllegalMailboxEncoding

__all__ = ["decoder", "encoder"]


def _b64(text: str) -> bytes:
    raw = text.encode("utf-16-be")
    return base64.b64encode(raw).rstrip(b"=").replace(b"/", b",")


def encoder(text: str, errors: str = "strict") -> tuple[bytes, int]:
    """Encode ``text`` as modified UTF-7; returns (bytes, characters consumed)."""
    out = bytearray()
    pending: list[str] = []
    for char in text:
        if 0x20 <= ord(char) <= 0x7E:
            if pending:
                out += b"&" + _b64("".join(pending)) + b"-"
                pending = []
            out += b"&-" if char == "&" else char.encode("ascii")
        else:
            pending.append(char)
    if pending:
        out += b"&" + _b64("".join(pending)) + b"-"
    return bytes(out), len(text)


def decoder(data: bytes | bytearray | memoryview, errors: str = "strict") -> tuple[str, int]:
    """Decode modified UTF-7; IllegalMailboxEncoding if it is not valid."""
    raw = bytes(data)
    out: list[str] = []
    pos = 0
    while pos < len(raw):
        char = raw[pos]
        if char != 0x26:  # &
            if not 0x20 <= char <= 0x7E:
                raise IllegalMailboxEncoding(f"byte {char:#x} is not allowed in a mailbox name")
            out.append(chr(char))
            pos += 1
            continue
        end = raw.find(b"-", pos)
        if end < 0:
            raise IllegalMailboxEncoding("'&' without a closing '-' in a mailbox name")
        chunk = raw[pos + 1 : end]
        if not chunk:
            out.append("&")
        else:
            padded = chunk.replace(b",", b"/") + b"=" * (-len(chunk) % 4)
            try:
                out.append(base64.b64decode(padded, validate=True).decode("utf-16-be"))
            except (binascii.Error, UnicodeDecodeError, ValueError) as e:
                raise IllegalMailboxEncoding(f"bad modified UTF-7 in {raw[:60]!r}") from e
        pos = end + 1
    return "".join(out), len(raw)


def _search(name: str) -> codecs.CodecInfo | None:
    if name.replace("_", "-") in ("imap4-utf-7", "imap4-utf7"):
        return codecs.CodecInfo(encoder, decoder, name="imap4-utf-7")  # type: ignore[arg-type]
    return None


codecs.register(_search)
