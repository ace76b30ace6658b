"""Hypothesis: no sequence of lines from a client costs it (or anyone) the connection.

Lines are made of the server's own commands with arbitrary parameters (text with
any characters, channel-like and nick-like words, mode strings, numbers) and of raw
bytes; after each example the client still answers PING, its channel peer still
hears it, and nothing was logged as an error. The flood limits are off here, so
that what is tested is each command's handling of what it is given.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.internet.reactormixins import loggedErrors
from tests.words._serviceharness import Network

__all__ = ["loggedErrors"]

COMMANDS = [
    "JOIN",
    "PART",
    "TOPIC",
    "NAMES",
    "LIST",
    "KICK",
    "INVITE",
    "MODE",
    "PRIVMSG",
    "NOTICE",
    "TAGMSG",
    "AWAY",
    "WHO",
    "WHOIS",
    "USERHOST",
    "ISON",
    "MOTD",
    "LUSERS",
    "VERSION",
    "OPER",
    "PING",
    "PONG",
    "CAP",
    "AUTHENTICATE",
    "PASS",
    "USER",
    "NICK",
]

words = st.one_of(
    st.sampled_from(
        [
            "#c",
            "#C",
            "#other",
            "peer",
            "PEER",
            "fuzz",
            "*",
            "0",
            "+o",
            "-o+v",
            "+kl",
            "+l",
            "+i",
            "b",
            "LS",
            "REQ",
            "END",
            "PLAIN",
            "+",
            "*",
            ":",
            ",,",
        ]
    ),
    st.text(
        alphabet=st.characters(blacklist_characters="\r\n\0 ", blacklist_categories=("Cs",)),
        min_size=1,
        max_size=12,
    ),
    st.from_regex(r"[#+-][a-z0-9,]{0,8}", fullmatch=True),
    st.integers(-5, 200_000).map(str),
)
lines = st.one_of(
    st.builds(
        lambda c, ps, trailing: (
            " ".join([c, *ps]) + (f" :{trailing}" if trailing is not None else "")
        ),
        st.sampled_from(COMMANDS),
        st.lists(words, max_size=5),
        st.none()
        | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40).map(
            lambda t: t.replace("\r", "").replace("\n", "")
        ),
    ),
    st.binary(max_size=60).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(lines, min_size=1, max_size=25))
def test_noLinesDisconnectAnyone(loggedErrors: list[dict[str, Any]], sent: list[Any]) -> None:
    net = Network(floodRate=None)
    fuzz, peer = net.channel("#c", "fuzz", "peer")
    fuzz.send(*sent)
    assert fuzz.connected and peer.connected
    nick = fuzz.proto.nickname
    fuzz.take()
    fuzz.send("PING :alive", "PRIVMSG peer :still talking")
    assert any(line.endswith(" alive") for line in fuzz.take())
    assert peer.take()[-1].startswith(f":{nick}!") and peer.take() == []
    assert loggedErrors == []
