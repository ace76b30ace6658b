"""The sans-IO HTTP/1.1 codec, byte by byte: framing, strictness, limits, both sides.

Everything here runs without a socket: bytes go into a parser and events come out.
The same bytes sent over real sockets are in tests/web/test_smuggling.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.web._http11 import (
    END,
    ChunkedDecoder,
    Limits,
    ParseError,
    RequestHead,
    RequestParser,
    ResponseHead,
    ResponseParser,
    encodeChunk,
)


def events(parser: RequestParser | ResponseParser, data: bytes, byteByByte: bool = False) -> list:
    """Every event the parser makes from `data` (fed whole or one byte at a time)."""
    out: list = []
    pieces = [data[i : i + 1] for i in range(len(data))] if byteByByte else [data]
    for piece in pieces:
        parser.feed(piece)
        while (event := parser.next()) is not None:
            out.append(event)
    return out


def body(evs: list) -> bytes:
    return b"".join(e for e in evs if isinstance(e, bytes))


def refusal(data: bytes, limits: Limits | None = None) -> ParseError:
    parser = RequestParser(limits or Limits())
    with pytest.raises(ParseError) as caught:
        events(parser, data)
    return caught.value


class TestRequests:
    def test_simple_get(self) -> None:
        evs = events(RequestParser(), b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n")
        head, end = evs
        assert isinstance(head, RequestHead)
        assert (head.method, head.target, head.version) == (b"GET", b"/a?b=1", (1, 1))
        assert head.headers == {b"host": [b"x"], b"accept": [b"*/*"]}
        assert head.keepAlive and not head.chunked and head.contentLength == 0
        assert end is END

    @pytest.mark.parametrize("byteByByte", [False, True])
    def test_content_length_body(self, byteByByte: bool) -> None:
        data = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world"
        evs = events(RequestParser(), data, byteByByte)
        assert evs[0].contentLength == 11
        assert body(evs) == b"hello world"
        assert evs[-1] is END

    @pytest.mark.parametrize("byteByByte", [False, True])
    def test_chunked_body_with_trailers(self, byteByByte: bool) -> None:
        data = (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: ignored\r\n\r\n"
        )
        evs = events(RequestParser(), data, byteByByte)
        assert evs[0].chunked
        assert body(evs) == b"hello world"
        assert evs[-1] is END

    def test_pipelined_requests_come_out_in_order(self) -> None:
        data = (
            b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(3))
            + b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok"
            + b"GET /last HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        evs = events(RequestParser(), data)
        targets = [e.target for e in evs if isinstance(e, RequestHead)]
        assert targets == [b"/0", b"/1", b"/2", b"/p", b"/last"]
        assert body(evs) == b"ok"
        assert evs.count(END) == 5

    def test_bare_lf_line_ends_are_accepted(self) -> None:
        (head, _) = events(RequestParser(), b"GET / HTTP/1.1\nHost: x\nA: b\n\n")
        assert head.headers == {b"host": [b"x"], b"a": [b"b"]}

    def test_leading_blank_lines_are_ignored(self) -> None:
        evs = events(RequestParser(), b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert evs[0].target == b"/"

    def test_value_whitespace_is_trimmed_and_repeats_kept(self) -> None:
        (head, _) = events(
            RequestParser(), b"GET / HTTP/1.1\r\nHost: x\r\nA:  1 \t\r\na: 2\r\n\r\n"
        )
        assert head.headers[b"a"] == [b"1", b"2"]

    def test_http10_keep_alive_rules(self) -> None:
        (plain, _) = events(RequestParser(), b"GET / HTTP/1.0\r\n\r\n")
        assert plain.version == (1, 0) and not plain.keepAlive
        (asked, _) = events(RequestParser(), b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
        assert asked.keepAlive
        (closing, _) = events(
            RequestParser(), b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert not closing.keepAlive

    def test_expect_continue(self) -> None:
        data = b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"
        (head,) = events(RequestParser(), data)
        assert head.expectContinue
        assert refusal(data.replace(b"100-continue", b"fancy")).status == 417

    def test_absolute_form_and_asterisk_targets(self) -> None:
        (head, _) = events(
            RequestParser(), b"GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n"
        )
        assert head.target == b"http://example.com/x"
        (star, _) = events(RequestParser(), b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
        assert star.target == b"*"


class TestRefusals:
    """Each ambiguity that request smuggling exploits is refused, with its status."""

    @pytest.mark.parametrize(
        "lengths",
        [
            b"Content-Length: 5\r\nContent-Length: 6",
            b"Content-Length: 5, 6",
            b"Content-Length: +5",
            b"Content-Length: 0x5",
            b"Content-Length: -1",
            b"Content-Length: 5 5",
            b"Content-Length: 1234567890123456789012",
        ],
    )
    def test_bad_content_length(self, lengths: bytes) -> None:
        assert refusal(b"POST / HTTP/1.1\r\nHost: x\r\n" + lengths + b"\r\n\r\nhello").status == 400

    def test_identical_repeated_content_length_is_accepted(self) -> None:
        evs = events(
            RequestParser(),
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
        )
        assert body(evs) == b"ok"

    def test_content_length_with_transfer_encoding(self) -> None:
        data = (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        )
        assert refusal(data).status == 400

    @pytest.mark.parametrize(
        ("coding", "status"),
        [
            (b"gzip", 400),
            (b"chunked, gzip", 400),
            (b"chunked, chunked", 400),
            (b"gzip, chunked", 501),
            (b"identity", 400),
            (b"xchunked", 400),
        ],
    )
    def test_transfer_codings(self, coding: bytes, status: int) -> None:
        data = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding + b"\r\n\r\n0\r\n\r\n"
        assert refusal(data).status == status

    def test_transfer_encoding_in_http10(self) -> None:
        assert (
            refusal(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").status == 400
        )

    @pytest.mark.parametrize(
        "chunks",
        [
            b"5x\r\nhello\r\n0\r\n\r\n",
            b"-5\r\nhello\r\n0\r\n\r\n",
            b"\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"1234567890123456\r\n",
            b"0x5\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\r\n0\r\n bad trailer\r\n\r\n",
        ],
    )
    def test_bad_chunks(self, chunks: bytes) -> None:
        data = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
        assert refusal(data).status == 400

    @pytest.mark.parametrize(
        ("head", "status"),
        [
            (b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: x\r\nA\t: b\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: x\rEvil: y\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: x\x00y\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            (b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            (b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
            (b"GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505),
            (b"GET / FTP/1.1\r\nHost: x\r\n\r\n", 400),
            (b"GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n", 400),
            (b"GET / HTTP/1.1\rHost: x\r\n\r\n", 400),
        ],
    )
    def test_bad_heads(self, head: bytes, status: int) -> None:
        assert refusal(head).status == status

    def test_limits(self) -> None:
        limits = Limits(maxLineLength=100, maxHeaderCount=3, maxHeaderBytes=200, maxBodySize=10)
        assert refusal(b"GET /" + b"a" * 200 + b" HTTP/1.1\r\n", limits).status == 414
        assert refusal(b"GET /" + b"a" * 200, limits).status == 414
        many = b"".join(b"H%d: v\r\n" % i for i in range(4))
        assert refusal(b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n", limits).status == 431
        assert (
            refusal(b"GET / HTTP/1.1\r\nHost: x\r\nBig: " + b"v" * 300 + b"\r\n\r\n", limits).status
            == 431
        )
        assert refusal(b"GET / HTTP/1.1\r\nHost: x\r\nBig: " + b"v" * 400, limits).status == 431
        assert (
            refusal(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", limits).status
            == 413
        )
        chunked = (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"6\r\nhello!\r\n6\r\nhello!\r\n"
        )
        assert refusal(chunked, limits).status == 413

    def test_a_long_chunk_line_is_refused_before_it_ends(self) -> None:
        data = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;" + b"e" * 5000
        assert refusal(data).status == 400

    def test_trailer_size_is_bounded(self) -> None:
        limits = Limits(maxTrailerBytes=50)
        data = (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: " + b"v" * 100
        )
        assert refusal(data, limits).status == 431


class TestResponses:
    def test_content_length(self) -> None:
        parser = ResponseParser()
        evs = events(parser, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        head = evs[0]
        assert isinstance(head, ResponseHead)
        assert (head.code, head.phrase, head.bodyLength, head.keepAlive) == (200, b"OK", 5, True)
        assert body(evs) == b"hello" and evs[-1] is END

    def test_chunked(self) -> None:
        evs = events(
            ResponseParser(),
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            True,
        )
        assert evs[0].chunked and body(evs) == b"abc" and evs[-1] is END

    def test_until_close(self) -> None:
        parser = ResponseParser()
        evs = events(parser, b"HTTP/1.0 200 OK\r\n\r\nsome data")
        assert evs[0].bodyLength is None and not evs[0].keepAlive
        parser.feedEOF()
        assert parser.next() is END

    def test_cut_short(self) -> None:
        parser = ResponseParser()
        events(parser, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        with pytest.raises(ParseError):
            parser.feedEOF()

    @pytest.mark.parametrize("code", [204, 304])
    def test_no_body_codes(self, code: int) -> None:
        evs = events(ResponseParser(), b"HTTP/1.1 %d X\r\nContent-Length: 5\r\n\r\n" % code)
        assert evs[-1] is END and body(evs) == b""

    def test_head_response_has_no_body(self) -> None:
        parser = ResponseParser()
        parser.expectResponse(b"HEAD")
        evs = events(parser, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
        assert evs[-1] is END

    def test_interim_responses_precede_the_final_one(self) -> None:
        evs = events(
            ResponseParser(),
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
        )
        assert [e.code for e in evs if isinstance(e, ResponseHead)] == [100, 200]
        assert body(evs) == b"x"

    def test_malformed_status_line(self) -> None:
        parser = ResponseParser()
        with pytest.raises(ParseError) as caught:
            events(parser, b"HTTP/1.1 OK\r\n\r\n")
        assert caught.value.status == 502


def test_chunk_encoding_round_trip() -> None:
    data = encodeChunk(b"hello") + encodeChunk(b" world") + b"0\r\n\r\n"
    pieces, offset, done = ChunkedDecoder().decode(data, 0)
    assert b"".join(pieces) == b"hello world" and done and offset == len(data)


_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12).map(str.encode)
_value = st.binary(max_size=30).map(lambda b: bytes(c for c in b if 0x21 <= c <= 0x7E))


@settings(max_examples=200, deadline=None)
@given(
    headers=st.lists(st.tuples(_token, _value), max_size=8),
    content=st.binary(max_size=300),
    chunked=st.booleans(),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=6),
)
def test_any_split_of_a_valid_request_parses_the_same(headers, content, chunked, cuts) -> None:
    lines = [b"POST /x HTTP/1.1", b"Host: h"]
    lines += [
        name + b": " + value
        for name, value in headers
        if name not in (b"host", b"content-length", b"transfer-encoding", b"expect", b"connection")
    ]
    if chunked:
        lines.append(b"Transfer-Encoding: chunked")
        payload = (encodeChunk(content) if content else b"") + b"0\r\n\r\n"
    else:
        lines.append(b"Content-Length: %d" % len(content))
        payload = content
    data = b"\r\n".join(lines) + b"\r\n\r\n" + payload
    parser = RequestParser()
    out: list = []
    start = 0
    for cut in [*sorted({min(c, len(data)) for c in cuts}), len(data)]:
        parser.feed(data[start:cut])
        start = cut
        while (event := parser.next()) is not None:
            out.append(event)
    assert isinstance(out[0], RequestHead) and out[-1] is END
    assert body(out) == content


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_parse_or_fail_cleanly(data: bytes) -> None:
    parser = RequestParser(Limits(maxLineLength=200, maxHeaderBytes=200, maxBodySize=100))
    try:
        events(parser, b"GET / HTTP/1.1\r\n" + data)
        events(RequestParser(), data)
    except ParseError as error:
        assert 400 <= error.status < 600


def test_a_repeated_header_block_gives_independent_headers() -> None:
    parser = RequestParser()
    request = b"GET /%d HTTP/1.1\r\nHost: x\r\nA: 1\r\n\r\n"
    (first, _) = events(parser, request % 1)
    first.headers[b"a"].append(b"changed by the application")
    first.headers[b"new"] = [b"x"]
    (second, _) = events(parser, request % 2)
    assert second.headers == {b"host": [b"x"], b"a": [b"1"]}
    assert second.target == b"/2"
    second.headers[b"a"][0] = b"changed again"
    for n in (3, 4):
        (cached, _) = events(parser, request % n)
        assert cached.headers == {b"host": [b"x"], b"a": [b"1"]}, "from the cache, unchanged"
        cached.headers[b"host"].append(b"mutated")
    (third, _) = events(parser, b"GET / HTTP/1.1\r\nHost: y\r\n\r\n")
    assert third.headers == {b"host": [b"y"]}
    (tenth, _) = events(parser, b"GET / HTTP/1.0\r\nHost: y\r\n\r\n")
    assert not tenth.keepAlive, "the version takes part in the framing decision"
