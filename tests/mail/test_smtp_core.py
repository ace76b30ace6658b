"""Tests for torsion.mail._smtpcore: addresses, the parsers and encoders, without IO."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torsion.mail import _smtpparse as core
from torsion.mail import smtp

# -- addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "local", "domain"),
    [
        (b"<alice@example.com>", b"alice", b"example.com"),
        (b"alice@example.com", b"alice", b"example.com"),
        ("bob.smith+tag@Mail.Example.ORG", b"bob.smith+tag", b"Mail.Example.ORG"),
        (b'<"odd name"@example.com>', b'"odd name"', b"example.com"),
        (b"<@relay.example,@other.example:carol@example.com>", b"carol", b"example.com"),
        (b"<user@[192.0.2.1]>", b"user", b"[192.0.2.1]"),
        (b"<>", b"", b""),
    ],
)
def test_addressParses(given: bytes | str, local: bytes, domain: bytes) -> None:
    address = smtp.Address(given)
    assert (address.local, address.domain) == (local, domain)


def test_addressBytesAndStr() -> None:
    address = smtp.Address(b"<alice@example.com>")
    assert bytes(address) == b"alice@example.com"
    assert str(address) == "alice@example.com"
    assert address == "alice@example.com"
    assert smtp.Address(address) == address


def test_sourceRouteIsKeptAside() -> None:
    address = smtp.Address(b"<@relay.example:carol@example.com>")
    assert address.route == b"@relay.example:"
    assert bytes(address) == b"carol@example.com"


def test_defaultDomainCompletesALocalAddress() -> None:
    assert (
        bytes(smtp.Address(b"postmaster", defaultDomain=b"example.com"))
        == b"postmaster@example.com"
    )
    assert bytes(smtp.Address(b"postmaster")) == b"postmaster"


@pytest.mark.parametrize(
    "bad",
    [
        b"<alice@example.com",
        b"alice@",
        b"@example.com",
        b"al ice@example.com",
        b"alice@exa mple.com",
        b"alice@-example.com",
        b"alice..x@example.com",
        b"alice@example.com\r\nRCPT TO:<x@y>",
        b"a" * 65 + b"@example.com",
        b"alice@" + b"a" * 300,
        b"alice\x00@example.com",
    ],
)
def test_badAddressesAreRefused(bad: bytes) -> None:
    with pytest.raises(smtp.AddressError):
        smtp.Address(bad)


def test_userCarriesTheAddresses() -> None:
    user = smtp.User(b"<bob@example.com>", (b"client", b"127.0.0.1"), None, smtp.Address(b"a@b.c"))
    assert bytes(user) == b"bob@example.com"
    assert smtp.Address(user) == user.dest
    assert user.orig == smtp.Address(b"a@b.c")


def test_quoteaddr() -> None:
    assert smtp.quoteaddr(b"alice@example.com") == b"<alice@example.com>"
    assert smtp.quoteaddr("Alice <alice@example.com>") == b"<alice@example.com>"
    assert smtp.quoteaddr(smtp.Address(b"bob@example.com")) == b"<bob@example.com>"
    assert smtp.quoteaddr(b"") == b"<>"


# -- errors ------------------------------------------------------------------------------


def test_errorsShowCodeAndText() -> None:
    assert (
        str(smtp.SMTPBadRcpt(b"x@example.com"))
        == "550 <x@example.com>... Cannot receive for specified address"
    )
    assert str(smtp.SMTPServerError(451, b"later")) == "451 later"
    error = smtp.SMTPClientError(550, b"no", log=b"<<< 550 no")
    assert str(error) == "550 no\n<<< 550 no"
    assert bytes(error) == b"550 no\n<<< 550 no"
    assert issubclass(smtp.SMTPBadSender, smtp.SMTPAddressError)
    assert issubclass(smtp.TLSRequiredError, smtp.ESMTPClientError)


# -- commands ----------------------------------------------------------------------------


def test_parseCommand() -> None:
    assert core.parseCommand(b"mail FROM:<a@b>") == (b"MAIL", b"FROM:<a@b>")
    assert core.parseCommand(b"  NOOP  ") == (b"NOOP", b"")


def test_parsePathWithParameters() -> None:
    path, params = core.parsePath(b"FROM:<a@b.c> SIZE=1000 body=8BITMIME SMTPUTF8", b"FROM:")
    assert path == b"<a@b.c>"
    assert params == {b"SIZE": b"1000", b"BODY": b"8BITMIME", b"SMTPUTF8": None}


def test_parsePathIsLenient() -> None:
    assert core.parsePath(b"to: <a@b.c>", b"TO:") == (b"<a@b.c>", {})
    assert core.parsePath(b"TO:a@b.c", b"TO:") == (b"a@b.c", {})


@pytest.mark.parametrize(
    "bad",
    [
        b"FROM <a@b>",
        b"FROM:<a@b",
        b"FROM:<a@b>SIZE=1",
        b"FROM:<a@b> =x",
        b"FROM:<a@b> SIZE=",
        b"FROM:",
    ],
)
def test_parsePathRefuses(bad: bytes) -> None:
    with pytest.raises(core.CommandSyntaxError):
        core.parsePath(bad, b"FROM:")


# -- line framing ------------------------------------------------------------------------


def lines(buffer: core.LineBuffer, limit: int = 20) -> list[object]:
    out: list[object] = []
    while (line := buffer.nextLine(limit)) is not None:
        out.append((line, buffer.crlf) if isinstance(line, bytes) else line)
    return out


def test_lineBufferCutsLines() -> None:
    buffer = core.LineBuffer()
    buffer.feed(b"one\r\ntwo\nthr")
    assert lines(buffer) == [(b"one", True), (b"two", False)]
    buffer.feed(b"ee\r\n")
    assert lines(buffer) == [(b"three", True)]


def test_overlongLineIsReportedOnceAndSkipped() -> None:
    buffer = core.LineBuffer()
    buffer.feed(b"x" * 50)
    assert lines(buffer) == [core.LINE_TOO_LONG]
    assert buffer.pending() == 0
    buffer.feed(b"y" * 50)
    assert lines(buffer) == []
    buffer.feed(b"z\r\nnext\r\n")
    assert lines(buffer) == [(b"next", True)]


def test_overlongCompleteLine() -> None:
    buffer = core.LineBuffer()
    buffer.feed(b"x" * 21 + b"\r\nok\r\n")
    assert lines(buffer) == [core.LINE_TOO_LONG, (b"ok", True)]


@given(st.lists(st.binary(max_size=30), max_size=10), st.lists(st.integers(1, 40), min_size=1))
def test_lineBufferDoesNotDependOnSegmentation(pieces: list[bytes], cuts: list[int]) -> None:
    data = b"\r\n".join(pieces) + b"\r\n"
    whole = core.LineBuffer()
    whole.feed(data)
    expected = lines(whole)
    cut = core.LineBuffer()
    got: list[object] = []
    position = 0
    index = 0
    while position < len(data):
        size = cuts[index % len(cuts)]
        cut.feed(data[position : position + size])
        got.extend(lines(cut))
        position += size
        index += 1
        assert cut.pending() <= 21 + 40
    assert got == expected


# -- DATA --------------------------------------------------------------------------------


def decodeAll(data: bytes, maxSize: int | None = None) -> tuple[list[bytes], bool, bytes]:
    buffer = core.LineBuffer()
    buffer.feed(data)
    decoder = core.DataDecoder(maxSize)
    out: list[bytes] = []
    while True:
        line = buffer.nextLine(10000)
        if line is None:
            return out, False, b""
        assert isinstance(line, bytes)
        result = decoder.lineReceived(line, buffer.crlf)
        if result is None:
            return out, decoder.tooBig, buffer.clear()
        if result is not False:
            assert isinstance(result, bytes)
            out.append(result)


def test_dataIsUnstuffedAndEndsAtDot() -> None:
    out, tooBig, rest = decodeAll(b"Subject: x\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n")
    assert out == [b"Subject: x", b"", b".leading dot"]
    assert not tooBig
    assert rest == b"QUIT\r\n"


def test_bareLineFeedDotDoesNotEndData() -> None:
    out, _, _ = decodeAll(b"a\n.\nMAIL FROM:<evil@x>\r\n.\r\n")
    assert out == [b"a", b"", b"MAIL FROM:<evil@x>"]
    out, _, _ = decodeAll(b"a\r\n.\nb\r\n.\r\n")
    assert out == [b"a", b"", b"b"]


def test_dataOverTheLimitIsDropped() -> None:
    out, tooBig, _ = decodeAll(b"12345678\r\n12345678\r\n.\r\n", maxSize=15)
    assert out == [b"12345678"]
    assert tooBig


@given(st.binary(max_size=300), st.lists(st.integers(1, 50), min_size=1, max_size=8))
def test_encoderThenDecoderGivesTheMessageBack(body: bytes, cuts: list[int]) -> None:
    encoder = core.DataEncoder()
    wire = b""
    position = 0
    index = 0
    while position < len(body):
        size = cuts[index % len(cuts)]
        chunk = encoder.encode(body[position : position + size])
        assert chunk or not body[position : position + size]
        wire += chunk
        position += size
        index += 1
    wire += encoder.finish()
    out, _, rest = decodeAll(wire)
    assert rest == b""
    normalised = body.replace(b"\r\n", b"\n")
    expected = normalised.split(b"\n")
    if normalised.endswith(b"\n"):
        expected.pop()
    # A bare CR stays inside its line; CRLF and LF both end lines.
    assert [line.replace(b"\r\n", b"\n") for line in out] == expected or (not body and out == [])


# -- replies -----------------------------------------------------------------------------


def test_formatReply() -> None:
    assert core.formatReply(250, b"OK") == b"250 OK\r\n"
    assert core.formatReply(250, [b"a", b"b"]) == b"250-a\r\n250 b\r\n"
    assert core.formatReply(354) == b"354\r\n"


def test_formatReplyCannotBeSplitByTheText() -> None:
    assert core.formatReply(550, [b"no\r\n250 fake"]) == b"550 no  250 fake\r\n"


def test_replyParser() -> None:
    parser = core.ReplyParser()
    assert parser.lineReceived(b"250-first") is None
    assert parser.lineReceived(b"250-SIZE 10") is None
    assert parser.lineReceived(b"250 last") == (250, [b"first", b"SIZE 10", b"last"])
    assert parser.lineReceived(b"220") == (220, [b""])


@pytest.mark.parametrize("bad", [b"hello", b"25", b"2500 x", b"abc def"])
def test_replyParserRefusesGarbage(bad: bytes) -> None:
    with pytest.raises(ValueError, match="not an SMTP reply"):
        core.ReplyParser().lineReceived(bad)


def test_replyParserRefusesACodeChange() -> None:
    parser = core.ReplyParser()
    parser.lineReceived(b"250-a")
    with pytest.raises(ValueError, match="changed"):
        parser.lineReceived(b"550 b")


def test_replyParserKeepsBoundedLines() -> None:
    parser = core.ReplyParser(maxLines=3)
    for _ in range(100):
        parser.lineReceived(b"250-x")
    code, kept = parser.lineReceived(b"250 end") or (0, [])
    assert code == 250 and len(kept) == 3


# -- helpers -----------------------------------------------------------------------------


@given(st.binary(max_size=50))
def test_xtextRoundTrip(data: bytes) -> None:
    encoded, _ = smtp.xtext_encode(data)
    assert all(33 <= b <= 126 for b in encoded)
    decoded, _ = smtp.xtext_decode(encoded)
    assert decoded == data.decode("utf-8", "replace")


def test_messageidsAreUnique() -> None:
    ids = {smtp.messageid() for _ in range(100)}
    assert len(ids) == 100
    assert all(i.startswith(b"<") and i.endswith(b">") and b"@" in i for i in ids)


def test_rfc822date() -> None:
    assert smtp.rfc822date(0, local=False) == b"Thu, 01 Jan 1970 00:00:00 -0000"


def decodeInChunks(
    data: bytes, cuts: list[int], maxLine: int = 50
) -> tuple[list[bytes], bytes, bool]:
    buffer = core.LineBuffer()
    decoder = core.DataDecoder(None, maxLine)
    out: list[bytes] = []
    position = index = 0
    while position < len(data):
        size = cuts[index % len(cuts)]
        buffer.feed(data[position : position + size])
        position += size
        index += 1
        while True:
            lines, used, ended = decoder.decodeChunk(buffer.peek())
            buffer.consume(used)
            out += lines
            if ended:
                return out, buffer.clear() + data[position:], decoder.lineTooLong
            if not used:
                break
            assert buffer.pending() <= maxLine + 1 + 4
    return out, b"", decoder.lineTooLong


@given(
    st.lists(
        st.binary(max_size=40).filter(lambda b: b"\r" not in b and b"\n" not in b), max_size=12
    ),
    st.lists(st.integers(1, 30), min_size=1, max_size=6),
)
def test_chunkDecoderAgreesWithTheLineDecoder(lines: list[bytes], cuts: list[int]) -> None:
    encoder = core.DataEncoder()
    wire = encoder.encode(b"".join(line + b"\r\n" for line in lines)) if lines else b""
    wire += encoder.finish() + b"NEXT\r\n"
    out, rest, tooLong = decodeInChunks(wire, cuts)
    assert out == lines
    assert rest == b"NEXT\r\n"
    assert not tooLong


@given(st.lists(st.integers(1, 30), min_size=1, max_size=6))
def test_chunkDecoderFindsAnOverlongLineHoweverCut(cuts: list[int]) -> None:
    wire = b"short\r\n" + b"x" * 200 + b"\r\n.not the end\r\n.\r\nNEXT\r\n"
    out, rest, tooLong = decodeInChunks(wire, cuts)
    assert tooLong and out[:1] in ([], [b"short"])
    assert rest == b"NEXT\r\n"


def test_chunkDecoderEndsOnlyAtCRLFDotCRLF() -> None:
    out, rest, _ = decodeInChunks(b"a\n.\nb\r\n.\r\nQUIT\r\n", [100])
    assert out == [b"a\n.\nb"] and rest == b"QUIT\r\n"
