"""An IRC bot on torsion's IRCClient: it joins channels and answers commands.

Run it with ``python examples/words/ircbot.py --host irc.example.org --port 6667
--nick torsionbot --channel '#test'``. In a channel it answers lines that start with
``!`` (``!help``, ``!echo words``, ``!time``, ``!roll 2d6``, ``!seen nick``,
``!uptime``) or are addressed to it (``torsionbot: help``); in a private message any
line is a command. It sends through IRCClient's flood-safe queue (a burst of 4 lines,
then one every half second), takes a fallback nickname if its own is taken, and
reconnects with back-off if the connection drops. It prints "signed on as NICK" and
"joined CHANNEL" on stdout.
Tests: tests/words/test_irc_bot.py (against a fake server and against ngircd).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from torsion.internet import protocol
from torsion.words.protocols import irc

_ROLL = re.compile(r"(\d{1,2})d(\d{1,4})")


class CommandBot(irc.IRCClient):
    """A bot that answers ``!commands``; its ``command_<name>`` methods are the commands."""

    lineRate = 0.5
    lineBurst = 4
    versionName = "torsion ircbot"
    factory: BotFactory

    def __init__(self) -> None:
        self.seen: dict[str, tuple[float, str]] = {}
        self.started = time.time()

    def connectionMade(self) -> None:
        """Take the nickname and channels from the factory, then register."""
        self.nickname = self.factory.nickname
        self.fallbackNicknames = [self.factory.nickname + "_bot"]
        super().connectionMade()

    def signedOn(self) -> None:
        """Join the channels once registered."""
        self.factory.resetDelay()
        print(f"signed on as {self.nickname}", flush=True)
        for channel in self.factory.channels:
            self.join(channel)

    def joined(self, channel: str) -> None:
        """Say that we joined."""
        print(f"joined {channel}", flush=True)

    def privmsg(self, user: str, channel: str, message: str) -> None:
        """Answer commands in channels (``!cmd`` or ``nick: cmd``) and in private."""
        nick = user.split("!", 1)[0]
        private = irc.ircLower(channel) == irc.ircLower(self.nickname)
        if not private:
            self.seen[irc.ircLower(nick)] = (time.time(), channel)
        text = message.strip()
        if text.startswith("!"):
            text = text[1:]
        elif irc.ircLower(text).startswith(irc.ircLower(self.nickname) + ":"):
            text = text[len(self.nickname) + 1 :].strip()
        elif not private:
            return
        name, _, args = text.partition(" ")
        method: Callable[[str, str], str | None] | None = getattr(
            self, "command_" + name.lower(), None
        )
        replyTo = nick if private else channel
        if method is None:
            if private:
                self.msg(replyTo, f"unknown command {name!r}; try help")
            return
        try:
            answer = method(nick, args.strip())
        except ValueError as e:
            answer = f"{nick}: {e}"
        if answer:
            self.msg(replyTo, answer)

    def command_help(self, nick: str, args: str) -> str:
        """help: list the commands."""
        names = sorted(n[len("command_") :] for n in dir(self) if n.startswith("command_"))
        return "commands: " + ", ".join(names)

    def command_echo(self, nick: str, args: str) -> str:
        """echo WORDS: say WORDS back."""
        return args or "(nothing to echo)"

    def command_time(self, nick: str, args: str) -> str:
        """time: the bot's time, in UTC."""
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())

    def command_roll(self, nick: str, args: str) -> str:
        """roll NdM: roll N dice of M sides (1d6 by default)."""
        match = _ROLL.fullmatch(args or "1d6")
        if match is None:
            raise ValueError("roll takes NdM, like 2d6")
        count, sides = int(match.group(1)), int(match.group(2))
        if not (1 <= count <= 20 and 2 <= sides <= 1000):
            raise ValueError("roll between 1 and 20 dice of 2 to 1000 sides")
        dice = [random.randint(1, sides) for _ in range(count)]
        return f"{nick} rolls {args or '1d6'}: {' '.join(map(str, dice))} = {sum(dice)}"

    def command_seen(self, nick: str, args: str) -> str:
        """seen NICK: when NICK last spoke in a channel the bot is in."""
        if not args:
            raise ValueError("seen takes a nickname")
        entry = self.seen.get(irc.ircLower(args.split()[0]))
        if entry is None:
            return f"I have not seen {args.split()[0]} speak"
        ago = int(time.time() - entry[0])
        return f"{args.split()[0]} spoke in {entry[1]} {ago} seconds ago"

    def command_uptime(self, nick: str, args: str) -> str:
        """uptime: how long the bot has run."""
        return f"up {int(time.time() - self.started)} seconds"


class BotFactory(protocol.ReconnectingClientFactory):
    """Makes CommandBots and reconnects them, with back-off, when the link drops."""

    protocol = CommandBot
    maxDelay = 300.0

    def __init__(self, nickname: str, channels: list[str]) -> None:
        self.nickname = nickname
        self.channels = channels

    def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
        """Say why, then retry."""
        print(f"connection failed: {reason.getErrorMessage()}", flush=True)
        super().clientConnectionFailed(connector, reason)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, connect, and run until interrupted."""
    parser = argparse.ArgumentParser(description="An IRC bot that answers !commands.")
    parser.add_argument("--host", default="127.0.0.1", help="IRC server host")
    parser.add_argument("--port", type=int, default=6667, help="IRC server port")
    parser.add_argument("--nick", default="torsionbot", help="the bot's nickname")
    parser.add_argument(
        "--channel", action="append", default=[], help="a channel to join (repeatable)"
    )
    options = parser.parse_args(argv)

    from torsion.internet import reactor

    reactor.connectTCP(options.host, options.port, BotFactory(options.nick, options.channel))
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
