"""The IRC server (torsion.words.service.IRCUser) over in-memory transports and a Clock.

Registration (NICK/USER/PASS, CAP, SASL PLAIN), every command with its replies and
refusals, keepalives and timeouts, flood control, the send queue of a client that
does not read, connection limits, and malformed input that is answered or ignored
without costing anyone the connection.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.internet.reactormixins import loggedErrors
from tests.words._serviceharness import Network
from torsion.cred import checkers
from torsion.words.protocols import irc

__all__ = ["loggedErrors"]


def numerics(lines: list[str]) -> list[str]:
    return [irc.parseMessage(line).command for line in lines]


def memoryChecker() -> Any:
    return checkers.InMemoryUsernamePasswordDatabaseDontUse(alice="wonderland", bob="builder")


def plain(authzid: str, authcid: str, password: str) -> str:
    return base64.b64encode(f"{authzid}\0{authcid}\0{password}".encode()).decode()


# -- registration -------------------------------------------------------------------


def test_welcomeBurst() -> None:
    net = Network(motd="line one\nline two")
    lines = net.connect().register("alice")
    assert numerics(lines) == [
        "001",
        "002",
        "003",
        "004",
        "005",
        "251",
        "254",
        "255",
        "375",
        "372",
        "372",
        "376",
    ]
    isupport = irc.parseMessage(lines[4]).params
    assert "CASEMAPPING=ascii" in isupport and "PREFIX=(ov)@+" in isupport
    assert "CHANMODES=,k,l,imnt" in isupport and "NICKLEN=30" in isupport
    assert lines[0].endswith("alice!alice@127.0.0.1")
    assert lines[9] == ":irc.test 372 alice :- line one"


def test_noMotd() -> None:
    lines = Network().connect().register("alice")
    assert numerics(lines)[-1] == "422"


def test_nickRules() -> None:
    net = Network()
    net.user("alice")
    c = net.connect()
    c.send("NICK", "NICK 9lives", "NICK " + "a" * 31, "NICK ALICE", "NICK bad,nick")
    assert numerics(c.take()) == ["431", "432", "432", "433", "432"]
    c.send("USER x", "NICK carol", "USER carol 0 * :Carol")
    assert numerics(c.take())[:2] == ["461", "001"]
    c.send("USER again 0 * :x", "PASS late")
    assert numerics(c.take()) == ["462", "462"]


def test_commandsBeforeRegistrationAreRefused() -> None:
    c = Network().connect()
    c.send("JOIN #x", "PRIVMSG a :b", "FROBNICATE", "PING tok")
    assert c.take() == [
        ":irc.test 451 * :You have not registered",
        ":irc.test 451 * :You have not registered",
        ":irc.test 421 * FROBNICATE :Unknown command",
        ":irc.test PONG irc.test tok",
    ]


def test_registrationWaitsForCapEnd() -> None:
    c = Network().connect()
    c.send("CAP LS 302", "NICK alice", "USER a 0 * :A")
    assert c.take() == [":irc.test CAP * LS :message-tags multi-prefix sasl=PLAIN server-time"]
    c.send("CAP REQ :multi-prefix server-time", "CAP REQ :bogus-cap", "CAP LIST", "CAP FOO")
    assert c.take() == [
        ":irc.test CAP alice ACK :multi-prefix server-time",
        ":irc.test CAP alice NAK bogus-cap",
        ":irc.test CAP alice LIST :multi-prefix server-time",
        ":irc.test 410 alice FOO :Invalid CAP command",
    ]
    c.send("CAP REQ -server-time", "CAP END")
    lines = c.take()
    assert lines[0] == ":irc.test CAP alice ACK -server-time"
    assert numerics(lines)[1] == "001" and c.proto.caps == {"multi-prefix"}


def test_capLsWithoutVersionOffersPlainSasl() -> None:
    c = Network().connect()
    c.send("CAP LS")
    assert c.take() == [":irc.test CAP * LS :message-tags multi-prefix sasl server-time"]


def test_registrationTimesOut() -> None:
    net = Network()
    c = net.connect()
    c.send("NICK slow")
    net.clock.advance(59)
    assert c.connected
    net.clock.advance(2)
    assert not c.connected
    assert c.take()[-1] == "ERROR :Closing Link: 127.0.0.1 (Registration timed out)"


# -- logging in through Cred --------------------------------------------------------


def test_saslPlainLogsIn() -> None:
    net = Network([memoryChecker()])
    c = net.connect()
    c.send("CAP REQ :sasl", "NICK someone", "USER x 0 * :X", "AUTHENTICATE PLAIN")
    assert c.take()[-1] == "AUTHENTICATE +"
    c.send("AUTHENTICATE " + plain("", "alice", "wonderland"))
    lines = c.take()
    assert lines[:2] == [
        ":irc.test 900 someone someone!x@127.0.0.1 alice :You are now logged in as alice",
        ":irc.test 903 someone :SASL authentication successful",
    ]
    c.send("CAP END")
    lines = c.take()
    assert lines[0] == ":someone!x@127.0.0.1 NICK alice"
    assert numerics(lines)[1] == "001"
    c.send("WHOIS alice")
    assert ":irc.test 330 alice alice alice :is logged in as" in c.take()


def test_saslFailuresAbortsAndMechanisms() -> None:
    net = Network([memoryChecker()], maxLoginFailures=3)
    c = net.connect()
    c.send("CAP REQ :sasl", "AUTHENTICATE SCRAM-SHA-1")
    assert numerics(c.take())[1:] == ["908", "904"]
    c.send("AUTHENTICATE PLAIN", "AUTHENTICATE *")
    assert numerics(c.take()) == ["AUTHENTICATE", "906"]
    c.send("AUTHENTICATE PLAIN", "AUTHENTICATE !!notbase64!!")
    assert numerics(c.take()) == ["AUTHENTICATE", "904"]
    c.send("AUTHENTICATE PLAIN", "AUTHENTICATE " + plain("bob", "alice", "wonderland"))
    assert numerics(c.take()) == ["AUTHENTICATE", "904"]
    c.send("AUTHENTICATE PLAIN", "AUTHENTICATE " + plain("", "alice", "wrong"))
    assert numerics(c.take()) == ["AUTHENTICATE", "904"]
    c.send("AUTHENTICATE PLAIN", *["AUTHENTICATE " + "A" * 400] * 11)
    assert numerics(c.take()) == ["AUTHENTICATE", "905"]
    c.send("AUTHENTICATE PLAIN", "AUTHENTICATE " + plain("", "alice", "wrong"))
    assert c.connected
    c.send("AUTHENTICATE PLAIN", "AUTHENTICATE " + plain("", "alice", "wrong"))
    assert not c.connected
    assert c.take()[-1] == "ERROR :Closing Link: 127.0.0.1 (Bad password)"


def test_saslChunksOf400AndEmptyTerminator() -> None:
    net = Network([checkers.InMemoryUsernamePasswordDatabaseDontUse(alice="p" * 400)])
    c = net.connect()
    payload = plain("", "alice", "p" * 400)
    chunks = [payload[i : i + 400] for i in range(0, len(payload), 400)]
    c.send("CAP REQ :sasl", "AUTHENTICATE PLAIN", *[f"AUTHENTICATE {x}" for x in chunks])
    if len(chunks[-1]) == 400:
        c.send("AUTHENTICATE +")
    assert numerics(c.take())[-1] == "903"


def test_saslNeedsTheCapAndOnlyOnce() -> None:
    net = Network([memoryChecker()])
    c = net.connect()
    c.send("AUTHENTICATE PLAIN")
    assert numerics(c.take()) == ["904"]
    c.send("CAP REQ sasl", "AUTHENTICATE PLAIN", "AUTHENTICATE " + plain("", "bob", "builder"))
    c.take()
    c.send("AUTHENTICATE PLAIN")
    assert numerics(c.take()) == ["907"]


def test_passLogsInAsTheNick() -> None:
    net = Network([memoryChecker()])
    lines = net.connect().register("bob", "PASS builder")
    assert numerics(lines)[0] == "001"
    assert net.realm.users["bob"].account == "bob"


def test_wrongPassIsRefusedAndClosed() -> None:
    net = Network([memoryChecker()])
    c = net.connect()
    c.send("PASS nope", "NICK bob", "USER b 0 * :B")
    lines = c.take()
    assert lines == [
        ":irc.test 464 bob :Password incorrect",
        "ERROR :Closing Link: 127.0.0.1 (Bad password)",
    ]
    assert not c.connected and net.realm.users == {}


def test_serverWithAccountsOnlyNeedsAPassword() -> None:
    net = Network([memoryChecker()])
    c = net.connect()
    c.send("NICK guest", "USER g 0 * :G")
    assert numerics(c.take()) == ["464", "ERROR"]
    assert not c.connected


def test_accountsAndGuests() -> None:
    net = Network([memoryChecker(), checkers.AllowAnonymousAccess()])
    assert numerics(net.connect().register("guest"))[0] == "001"
    assert net.realm.users["guest"].account is None
    net.connect().register("alice", "PASS wonderland")
    assert net.realm.users["alice"].account == "alice"


def test_passIsIgnoredWhenTheServerHasNoAccounts() -> None:
    net = Network()
    assert numerics(net.connect().register("alice", "PASS network-password"))[0] == "001"


def test_secondLoginOfAnAccountIsNickInUse() -> None:
    net = Network([memoryChecker()])
    net.user("alice", "PASS wonderland")
    c = net.connect()
    c.send("PASS wonderland", "NICK alice", "USER a 0 * :A")
    assert numerics(c.take()) == ["433"]
    assert c.connected


# -- channels -------------------------------------------------------------------------


def test_joinTalkPartQuit() -> None:
    net = Network()
    alice, bob = net.user("alice"), net.user("bob")
    alice.send("JOIN #Lobby")
    assert alice.take() == [
        ":alice!alice@127.0.0.1 JOIN #Lobby",
        ":irc.test 353 alice = #Lobby :@alice",
        ":irc.test 366 alice #Lobby :End of /NAMES list",
    ]
    bob.send("JOIN #lobby")
    assert alice.take() == [":bob!bob@127.0.0.1 JOIN #Lobby"]
    assert bob.take()[1] == ":irc.test 353 bob = #Lobby :@alice bob"
    bob.send("PRIVMSG #LOBBY :hi there", "PRIVMSG alice :just you", "NOTICE #lobby :note")
    assert alice.take() == [
        ":bob!bob@127.0.0.1 PRIVMSG #Lobby :hi there",
        ":bob!bob@127.0.0.1 PRIVMSG alice :just you",
        ":bob!bob@127.0.0.1 NOTICE #Lobby :note",
    ]
    assert bob.take() == []
    bob.send("PART #lobby :see you")
    assert alice.take() == [":bob!bob@127.0.0.1 PART #Lobby :see you"]
    assert bob.take() == [":bob!bob@127.0.0.1 PART #Lobby :see you"]
    bob.send("JOIN #lobby")
    alice.take()
    bob.send("QUIT :off to bed")
    assert alice.take() == [":bob!bob@127.0.0.1 QUIT :Quit: off to bed"]
    assert bob.take()[-1] == "ERROR :Closing Link: 127.0.0.1 (Quit: off to bed)"
    assert not bob.connected and "bob" not in net.realm.users


def test_lostConnectionIsAQuitToldOncePerPeer() -> None:
    net = Network()
    alice, bob = net.channel("#one", "alice", "bob")
    for c in (alice, bob):
        c.send("JOIN #two")
    alice.take()
    bob.transport.loseConnection()
    assert alice.take() == [":bob!bob@127.0.0.1 QUIT :Connection closed"]
    assert set(net.realm.groups) == {"one", "two"}
    alice.send("PART #one,#two")
    assert net.realm.groups == {}


def test_joinErrorsAndLimits() -> None:
    net = Network(channelLength=10)
    net.realm.maxGroupsPerUser = 2
    c = net.user("alice")
    c.send("JOIN", "JOIN nohash", "JOIN #" + "x" * 10, "JOIN #a,#b,#c", "JOIN #a")
    lines = c.take()
    assert numerics(lines).count("403") == 2 and numerics(lines).count("405") == 1
    assert numerics(lines)[0] == "461"
    c.send("JOIN 0")
    assert c.take() == [
        ":alice!alice@127.0.0.1 PART #a :Left all channels",
        ":alice!alice@127.0.0.1 PART #b :Left all channels",
    ]


def test_joinOnlyExistingGroupsWhenNotMadeOnRequest() -> None:
    net = Network()
    net.realm.createGroupOnRequest = False
    net.realm.createGroup("lobby")
    c = net.user("alice")
    c.send("JOIN #nowhere", "JOIN #lobby")
    lines = c.take()
    assert lines[0] == ":irc.test 403 alice #nowhere :No such channel"
    assert lines[1] == ":alice!alice@127.0.0.1 JOIN #lobby"


def test_topic() -> None:
    net = Network()
    op, other = net.channel("#t", "op", "other")
    other.send("TOPIC #t", "TOPIC #t :mine")
    assert other.take() == [
        ":irc.test 331 other #t :No topic is set",
        ":irc.test 482 other #t :You're not channel operator",
    ]
    op.send("TOPIC #t :Welcome all")
    assert other.take() == [":op!op@127.0.0.1 TOPIC #t :Welcome all"]
    assert op.take() == [":op!op@127.0.0.1 TOPIC #t :Welcome all"]
    late = net.user("late")
    late.send("TOPIC #t", "TOPIC #t :x", "JOIN #t")
    lines = late.take()
    assert lines[0] == ":irc.test 332 late #t :Welcome all"
    assert numerics(lines)[1:3] == ["333", "442"]
    assert lines[4] == ":irc.test 332 late #t :Welcome all"


def test_namesWhoAndMultiPrefix() -> None:
    net = Network()
    op, v = net.channel("#c", "op", "v")
    op.send("MODE #c +v v")
    op.take()
    v.take()
    v.send("NAMES #c", "NAMES #none", "NAMES")
    assert v.take() == [
        ":irc.test 353 v = #c :@op +v",
        ":irc.test 366 v #c :End of /NAMES list",
        ":irc.test 366 v #none :End of /NAMES list",
        ":irc.test 366 v * :End of /NAMES list",
    ]
    op.send("MODE #c +o v")
    v.take()
    multi = net.user("multi", "CAP REQ multi-prefix", "CAP END")
    multi.send("NAMES #c", "WHO #c")
    lines = multi.take()
    assert lines[0] == ":irc.test 353 multi = #c :@op @+v"
    assert ":irc.test 352 multi #c v 127.0.0.1 irc.test v H@+ :0 V Person" in lines
    assert lines[-1] == ":irc.test 315 multi #c :End of /WHO list."


def test_who() -> None:
    net = Network()
    net.user("alice").send("AWAY :lunch")
    c = net.user("bob")
    c.send("WHO alice", "WHO a*", "WHO nobody", "WHO #nowhere")
    assert c.take() == [
        ":irc.test 352 bob * alice 127.0.0.1 irc.test alice G :0 Alice Person",
        ":irc.test 315 bob alice :End of /WHO list.",
        ":irc.test 352 bob * alice 127.0.0.1 irc.test alice G :0 Alice Person",
        ":irc.test 315 bob a* :End of /WHO list.",
        ":irc.test 315 bob nobody :End of /WHO list.",
        ":irc.test 315 bob #nowhere :End of /WHO list.",
    ]


def test_listShowsGroupsWithCountAndTopic() -> None:
    net = Network()
    op, _ = net.channel("#a", "op", "x")
    op.send("TOPIC #a :about a", "JOIN #b")
    op.take()
    op.send("LIST", "LIST #b")
    assert op.take() == [
        ":irc.test 321 op Channel :Users  Name",
        ":irc.test 322 op #a 2 :about a",
        ":irc.test 322 op #b 1 :",
        ":irc.test 323 op :End of /LIST",
        ":irc.test 321 op Channel :Users  Name",
        ":irc.test 322 op #b 1 :",
        ":irc.test 323 op :End of /LIST",
    ]


def test_channelModes() -> None:
    net = Network()
    op, member = net.channel("#m", "op", "member")
    op.send("MODE #m")
    lines = op.take()
    assert lines[0] == ":irc.test 324 op #m +nt" and numerics(lines)[1] == "329"
    member.send("MODE #m +i")
    assert numerics(member.take()) == ["482"]
    op.send("MODE #m +ikl-t sesame 5")
    expected = ":op!op@127.0.0.1 MODE #m +ikl-t sesame 5"
    assert op.take() == [expected] and member.take() == [expected]
    member.send("MODE #m")
    assert member.take()[0] == ":irc.test 324 member #m +inkl sesame 5"
    outsider = net.user("outsider")
    outsider.send("MODE #m", "JOIN #m")
    lines = outsider.take()
    assert lines[0] == ":irc.test 324 outsider #m +inkl * 5"
    assert lines[2] == ":irc.test 473 outsider #m :Cannot join channel (+i)"
    op.send("MODE #m -i", "MODE #m b", "MODE #m +z", "MODE #m +o", "MODE #m +o ghost")
    assert numerics(op.take()) == ["MODE", "368", "472", "461", "441"]
    outsider.send("JOIN #m", "JOIN #m wrong", "JOIN #m sesame")
    lines = outsider.take()
    assert numerics(lines)[:2] == ["475", "475"] and numerics(lines)[2] == "JOIN"
    op.send("MODE #m +l 2")
    op.take()
    fourth = net.user("fourth")
    fourth.send("JOIN #m sesame")
    assert numerics(fourth.take()) == ["471"]


def test_modesPerCommandAreLimited() -> None:
    net = Network(maxTargets=2)
    clients = net.channel("#m", "op", "a", "b", "c")
    clients[0].send("MODE #m +vvv a b c")
    assert clients[0].take() == [":op!op@127.0.0.1 MODE #m +vv a b"]


def test_moderatedAndNoExternalMessages() -> None:
    net = Network()
    op, member = net.channel("#q", "op", "member")
    outsider = net.user("outsider")
    outsider.send("PRIVMSG #q :in?", "NOTICE #q :quiet")
    assert outsider.take() == [":irc.test 404 outsider #q :Cannot send to channel"]
    op.send("MODE #q +m")
    member.take()
    member.send("PRIVMSG #q :hello?")
    assert numerics(member.take()) == ["404"]
    op.send("MODE #q +v member")
    member.take()
    member.send("PRIVMSG #q :now I can")
    assert op.take()[-1] == ":member!member@127.0.0.1 PRIVMSG #q :now I can"


def test_kick() -> None:
    net = Network()
    op, victim, other = net.channel("#k", "op", "victim", "other")
    victim.send("KICK #k op :no", "KICK #k")
    assert numerics(victim.take()) == ["482", "461"]
    op.send("KICK #k victim,ghost :behave")
    line = ":op!op@127.0.0.1 KICK #k victim behave"
    assert op.take() == [line, ":irc.test 441 op ghost #k :They aren't on that channel"]
    assert victim.take() == [line] and other.take() == [line]
    victim.send("PRIVMSG #k :let me in")
    assert numerics(victim.take()) == ["404"]
    victim.send("JOIN #k")
    assert numerics(victim.take())[0] == "JOIN"


def test_invite() -> None:
    net = Network()
    op, member = net.channel("#i", "op", "member")
    guest = net.user("guest")
    guest.send("AWAY :brb")
    guest.take()
    op.send("MODE #i +i")
    member.take()
    op.take()
    member.send("INVITE guest #i")
    assert numerics(member.take()) == ["482"]
    op.send("INVITE guest #i", "INVITE member #i", "INVITE ghost #i", "INVITE guest #none")
    assert op.take() == [
        ":irc.test 341 op guest #i",
        ":irc.test 301 op guest :brb",
        ":irc.test 443 op member #i :is already on channel",
        ":irc.test 401 op ghost :No such nick/channel",
        ":irc.test 403 op #none :No such channel",
    ]
    assert guest.take() == [":op!op@127.0.0.1 INVITE guest #i"]
    guest.send("JOIN #i")
    assert numerics(guest.take())[0] == "JOIN"


# -- messages ---------------------------------------------------------------------------


def test_messageErrors() -> None:
    net = Network(maxTargets=2)
    c = net.user("alice")
    c.send("PRIVMSG", "PRIVMSG bob", "PRIVMSG a,b,c :x", "PRIVMSG ghost :x", "PRIVMSG #none :x")
    assert numerics(c.take()) == ["411", "412", "407", "401", "403"]
    c.send("NOTICE", "NOTICE ghost :x", "NOTICE a,b,c :x")
    assert c.take() == []


def test_awayRepliesAndWhois() -> None:
    net = Network()
    alice, bob = net.channel("#w", "alice", "bob")
    alice.send("AWAY :gone fishing")
    assert alice.take() == [":irc.test 306 alice :You have been marked as being away"]
    bob.send("PRIVMSG alice :there?", "NOTICE alice :fyi", "WHOIS alice", "WHOIS ghost")
    lines = bob.take()
    assert lines[0] == ":irc.test 301 bob alice :gone fishing"
    assert lines[1:5] == [
        ":irc.test 311 bob alice alice 127.0.0.1 * :Alice Person",
        ":irc.test 319 bob alice :@#w",
        ":irc.test 312 bob alice irc.test :torsion",
        ":irc.test 301 bob alice :gone fishing",
    ]
    assert numerics(lines)[5:] == ["317", "318", "401", "318"]
    bob.send("USERHOST alice bob ghost", "ISON alice ghost BOB")
    assert bob.take() == [
        ":irc.test 302 bob :alice=-alice@127.0.0.1 bob=+bob@127.0.0.1",
        ":irc.test 303 bob :alice bob",
    ]
    alice.take()
    alice.send("AWAY")
    assert alice.take() == [":irc.test 305 alice :You are no longer marked as being away"]


def test_longMessagesAreCutToFitTheRelayedLine() -> None:
    net = Network()
    alice, bob = net.channel("#long", "alice", "bob")
    alice.send("PRIVMSG #long :" + "\u00e9" * 247)
    (line,) = bob.transport.value().split(b"\r\n")[:-1]
    assert len(line) <= 510
    text = irc.parseMessage(line).params[1]
    assert set(text) == {"\u00e9"} and 200 < len(text) < 247


def test_serverTimeAndClientTags() -> None:
    net = Network()
    plainClient = net.user("plain")
    tagged = net.user("tagged", "CAP REQ :server-time message-tags", "CAP END")
    sender = net.user("sender", "CAP REQ message-tags", "CAP END")
    for c in (plainClient, tagged, sender):
        c.send("JOIN #tags")
    for c in (plainClient, tagged, sender):
        c.take()
    sender.send("@+draft/reply=abc;+typing=active;secret=x PRIVMSG #tags :hi")
    assert plainClient.take() == [":sender!sender@127.0.0.1 PRIVMSG #tags :hi"]
    (message,) = tagged.messages()
    assert message.tags["+draft/reply"] == "abc" and message.tags["+typing"] == "active"
    assert "secret" not in message.tags and message.tags["time"].endswith("Z")
    sender.send("@+typing=paused TAGMSG #tags")
    assert plainClient.take() == []
    (tagOnly,) = tagged.messages()
    assert tagOnly.command == "TAGMSG" and tagOnly.tags["+typing"] == "paused"


def test_nickChangeIsToldToItsPeersOnce() -> None:
    net = Network()
    alice, bob = net.channel("#one", "alice", "bob")
    for c in (alice, bob):
        c.send("JOIN #two")
    alice.take()
    bob.take()
    loner = net.user("loner")
    alice.send("NICK Alicia")
    assert alice.take() == [":alice!alice@127.0.0.1 NICK Alicia"]
    assert bob.take() == [":alice!alice@127.0.0.1 NICK Alicia"]
    assert loner.take() == []
    bob.send("NICK ALICIA", "PRIVMSG alicia :hi", "NAMES #one")
    lines = bob.take()
    assert lines[0] == ":irc.test 433 bob ALICIA :Nickname is already in use"
    assert sorted(irc.parseMessage(lines[1]).params[-1].split()) == ["@Alicia", "bob"]
    assert alice.take() == [":bob!bob@127.0.0.1 PRIVMSG Alicia :hi"]


def test_userModes() -> None:
    c = Network().user("alice")
    c.send("MODE alice", "MODE alice +iw", "MODE alice -w+x", "MODE bob +i", "MODE alice")
    assert c.take() == [
        ":irc.test 221 alice +",
        ":alice!alice@127.0.0.1 MODE alice +i+w",
        ":irc.test 501 alice :Unknown MODE flag",
        ":alice!alice@127.0.0.1 MODE alice -w",
        ":irc.test 502 alice :Can't change mode for other users",
        ":irc.test 221 alice +i",
    ]


def test_serverCommands() -> None:
    c = Network(motd="hi").user("alice")
    c.send("MOTD", "LUSERS", "VERSION", "OPER a b", "PING", "PING :tok en", "PONG x")
    assert numerics(c.take()) == [
        "375",
        "372",
        "376",
        "251",
        "254",
        "255",
        "351",
        "491",
        "409",
        "PONG",
    ]


# -- keepalives, limits, flood, slow clients, malformed input ----------------------------


def test_idleClientIsPingedAndDroppedWithoutAnswer() -> None:
    net = Network(pingInterval=100.0, pingTimeout=30.0)
    alice, bob = net.channel("#p", "alice", "bob")
    net.clock.advance(60)
    alice.send("PRIVMSG #p :still here")
    net.clock.advance(50)
    assert bob.take()[-1] == "PING :irc.test"
    assert "PING :irc.test" not in alice.take()
    bob.send("PONG :irc.test")
    net.clock.advance(29)
    assert bob.connected
    for _ in range(40):
        net.clock.advance(5)
    assert alice.connected is False and bob.connected is False
    assert bob.take()[-2:] == [
        "PING :irc.test",
        "ERROR :Closing Link: 127.0.0.1 (Ping timeout: 30 seconds)",
    ]


def test_pingTimeoutIsAQuitForThePeers() -> None:
    net = Network(pingInterval=10.0, pingTimeout=5.0)
    alice, _bob = net.channel("#p", "alice", "bob")
    for _ in range(4):
        net.clock.advance(5)
        alice.send("PONG x")
    assert ":bob!bob@127.0.0.1 QUIT :Ping timeout: 5 seconds" in alice.take()
    assert alice.connected


def test_connectionLimits() -> None:
    net = Network(maxConnections=3, maxConnectionsPerHost=2)
    a, b = net.connect("10.0.0.1"), net.connect("10.0.0.1")
    c = net.connect("10.0.0.1")
    assert c.take() == ["ERROR :Closing Link: 10.0.0.1 (too many connections from 10.0.0.1)"]
    d = net.connect("10.0.0.2")
    e = net.connect("10.0.0.3")
    assert not c.connected and not e.connected and a.connected and b.connected and d.connected
    assert "server is full" in e.take()[0]
    a.transport.loseConnection()
    assert net.connect("10.0.0.1").connected
    assert net.factory.connectionsByHost == {"10.0.0.1": 2, "10.0.0.2": 1}


def test_floodIsSlowedNotDropped() -> None:
    net = Network(floodBurst=5, floodRate=2.0, maxPendingLines=100)
    alice, bob = net.channel("#f", "alice", "bob")
    net.clock.advance(10)
    alice.send(*[f"PRIVMSG #f :{i}" for i in range(20)])
    assert len(bob.take()) == 5
    assert alice.transport.producerState == "paused"
    net.clock.advance(2.0)
    assert len(bob.take()) == 4
    for _ in range(20):
        net.clock.advance(0.5)
    assert [irc.parseMessage(x).params[1] for x in bob.take()] == [str(i) for i in range(9, 20)]
    assert alice.transport.producerState == "producing" and alice.connected


def test_excessFloodIsDisconnected() -> None:
    net = Network(floodBurst=2, floodRate=1.0, maxPendingLines=10)
    alice, bob = net.channel("#f", "alice", "bob")
    net.clock.advance(5)
    alice.send(*["PRIVMSG #f :x"] * 30)
    assert not alice.connected
    assert alice.take()[-1] == "ERROR :Closing Link: 127.0.0.1 (Excess Flood)"
    assert bob.take()[-1] == ":alice!alice@127.0.0.1 QUIT :Excess Flood"


def test_clientThatDoesNotReadIsDroppedAndTheOthersGoOn(
    loggedErrors: list[dict[str, Any]],
) -> None:
    net = Network(maxSendQueue=4000, floodRate=None)
    # The sleeper between the two: it is dropped in the middle of a message's delivery.
    talker, sleeper, reader = net.channel("#s", "talker", "sleeper", "reader")
    for i in range(100):
        talker.send(f"PRIVMSG #s :message number {i} " + "x" * 20)
        assert reader.take()[-1].endswith(f"number {i} " + "x" * 20)
    assert not sleeper.connected
    assert sleeper.transport.aborted
    assert len(sleeper.transport.value()) < 4000 + 200
    assert net.realm.groups["s"].users.keys() == {"talker", "reader"}
    talker.send("PRIVMSG #s :after")
    assert reader.take() == [":talker!talker@127.0.0.1 PRIVMSG #s :after"]
    assert loggedErrors == [] and "NOTICE" not in "".join(talker.take())


def test_malformedLinesAreAnsweredOrIgnoredAndNobodyIsDisconnected(
    loggedErrors: list[dict[str, Any]],
) -> None:
    net = Network()
    alice, bob = net.channel("#m", "alice", "bob")
    alice.send(
        b"",
        b"   ",
        b":prefix.only",
        b":",
        b"@",
        b"@tag=1",
        b"\xff\xfe\xfd garbage",
        b"PRIVMSG #m :caf\xe9 latin-1",
        b"PRIVMSG #m :" + b"y" * 600,
        b"@" + b"t=" + b"v" * 9000 + b" PRIVMSG #m :big tags",
        b"JOIN ,,,",
        b"MODE",
        b"MODE #m +" + b"o" * 200,
        b"KICK #m",
        b"TOPIC",
        b"WHOIS",
        b"CAP",
        b"CAP REQ",
        b"NICK",
        b"PRIVMSG #m :\x01ACTION waves\x01",
        b"NAMES ,,#m,,",
        b"PART ,,",
        b"INVITE",
        b"USER a b",
        b"PING",
        b"\x00\x01\x02",
    )
    alice.send(b"X" * 20000)
    assert alice.connected and bob.connected
    lines = alice.take()
    assert "417" in numerics(lines)
    heard = [irc.parseMessage(x).params[-1] for x in bob.take()]
    assert heard == ["caf\u00e9 latin-1", "\x01ACTION waves\x01"]
    alice.send("PRIVMSG #m :still fine")
    assert bob.take() == [":alice!alice@127.0.0.1 PRIVMSG #m :still fine"]
    assert loggedErrors == []


def test_repliesEchoingOddWordsStillGoOut(loggedErrors: list[dict[str, Any]]) -> None:
    c = Network().user("alice")
    c.send("TOPIC :a channel with spaces", "NICK :two words", "WHOIS :x y", "MODE alice :+ i")
    assert numerics(c.take()) == ["403", "432", "401", "318", "501", "MODE"]
    assert c.connected and loggedErrors == []


def test_aHandlerBugIsLoggedAndTheConnectionStays(
    loggedErrors: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    net = Network()
    alice = net.user("alice")

    def broken(*args: object) -> None:
        raise RuntimeError("bug in a handler")

    monkeypatch.setattr(type(alice.proto), "irc_LUSERS", broken)
    alice.send("LUSERS", "PING x")
    assert alice.connected and numerics(alice.take()) == ["PONG"]
    assert len(loggedErrors) == 1


def test_anAccountLoggingInTakesItsNickBackFromAGuest() -> None:
    net = Network([memoryChecker(), checkers.AllowAnonymousAccess()])
    impostor, friend = net.channel("#c", "alice", "friend")
    owner = net.connect()
    owner.send("PASS wonderland", "NICK alice", "USER a 0 * :Alice")
    lines = owner.take()
    assert numerics(lines)[0] == "001" and net.realm.users["alice"].account == "alice"
    notice, nick = impostor.messages()
    assert notice.command == "NOTICE" and "an account that has logged in" in notice.params[1]
    guest = nick.params[0]
    assert nick.command == "NICK" and guest.startswith("Guest") and nick.prefix.startswith("alice!")
    assert friend.take() == [f":alice!alice@127.0.0.1 NICK {guest}"]
    assert net.realm.users[guest.lower()].mind is impostor.proto


def test_aGuestCannotTakeANickFromALoggedInAccount() -> None:
    net = Network([memoryChecker(), checkers.AllowAnonymousAccess()])
    net.user("alice", "PASS wonderland")
    guest = net.connect()
    guest.send("NICK alice", "USER g 0 * :G")
    assert numerics(guest.take()) == ["433"]
    other = net.connect()
    other.send("PASS wonderland", "NICK alice", "USER a 0 * :A")
    assert numerics(other.take()) == ["433"]
