"""What an IRC server says it supports (RPL_ISUPPORT, numeric 005), and MODE parsing.

``ServerSupportedFeatures`` keeps the features a server announced (``NICKLEN=30``,
``PREFIX=(ov)@+``, ``CHANMODES=b,k,l,imnpst`` ...) in parsed form, starting from the
defaults RFC 2812 implies; IRCClient uses it to size its messages and to know which
channel modes take a parameter, which ``parseModes`` needs to split a MODE line.
Import these names from ``torsion.words.protocols.irc``.
Tests: tests/words/test_irc_client.py (the ISUPPORT and MODE tests).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["IRCBadModes", "ServerSupportedFeatures", "parseModes"]


class IRCBadModes(ValueError):
    """A MODE string does not match the parameters given with it."""


def _intOrDefault(value: str | None, default: int | None = None) -> int | None:
    """Return ``value`` as an int, or ``default`` if it is empty or not a number."""
    if value:
        try:
            return int(value)
        except ValueError:
            pass
    return default


_HEX_ESCAPE = re.compile(r"\\x([0-9A-Fa-f]{2})")


class ServerSupportedFeatures:
    """The features of one server, parsed from its RPL_ISUPPORT lines.

    ``getFeature("NICKLEN")`` returns the parsed value (an int here; a dict for
    ``PREFIX``, ``CHANMODES``, ``TARGMAX``; a tuple for ``CHANTYPES``); a feature
    without a parser of its own keeps its comma-separated values as a tuple.
    """

    def __init__(self) -> None:
        self._features: dict[str, Any] = {
            "CHANNELLEN": 200,
            "CHANTYPES": tuple("#&"),
            "MODES": 3,
            "NICKLEN": 9,
            "PREFIX": self._parsePrefixParam("(ovh)@+%"),
            "CHANMODES": self._parseChanModesParam(["b", "", "lk", ""]),
        }

    # -- the small parsers --------------------------------------------------------------

    @classmethod
    def _splitParamArgs(
        cls, params: Sequence[str], valueProcessor: Callable[[str], Any] | None = None
    ) -> list[tuple[str, Any]]:
        """Split ``key:value`` items (``CHANLIMIT=#&:100``) into pairs."""
        pairs: list[tuple[str, Any]] = []
        for param in params:
            key, _, value = param.partition(":")
            pairs.append((key, valueProcessor(value) if valueProcessor else value))
        return pairs

    @classmethod
    def _unescapeParamValue(cls, value: str) -> str:
        """Undo ISUPPORT's ``\\xHH`` escapes."""
        return _HEX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)

    @classmethod
    def _splitParam(cls, param: str) -> tuple[str, list[str]]:
        """Split ``KEY=a,b`` into ``("KEY", ["a", "b"])``; ``KEY`` alone has no values."""
        key, sep, value = param.partition("=")
        if not sep:
            return key, []
        return key, [cls._unescapeParamValue(v) for v in value.split(",")]

    @classmethod
    def _parsePrefixParam(cls, prefix: str) -> dict[str, tuple[str, int]]:
        """Parse ``(ov)@+`` into ``{"o": ("@", 0), "v": ("+", 1)}`` (0 ranks highest).

        Raises:
            ValueError: the modes and the prefixes do not pair up.
        """
        if not prefix:
            return {}
        match = re.fullmatch(r"\(([^)]*)\)(.*)", prefix)
        if match is None or len(match.group(1)) != len(match.group(2)):
            raise ValueError(f"the PREFIX value {prefix!r} is not of the form (modes)prefixes")
        modes, symbols = match.groups()
        return {
            mode: (symbol, rank)
            for rank, (mode, symbol) in enumerate(zip(modes, symbols, strict=True))
        }

    @classmethod
    def _parseChanModesParam(cls, params: Sequence[str]) -> dict[str, str]:
        """Parse CHANMODES's four groups (list modes, always a parameter, a parameter
        when set, never a parameter).

        Raises:
            ValueError: more than four groups.
        """
        names = ("addressModes", "param", "setParam", "noParam")
        if len(params) > len(names):
            raise ValueError(f"CHANMODES has at most {len(names)} groups, not {len(params)}")
        values = dict.fromkeys(names, "")
        values.update(zip(names, params, strict=False))
        return values

    # -- the table ---------------------------------------------------------------------

    def getFeature(self, feature: str, default: Any = None) -> Any:
        """Return the parsed value of ``feature``, or ``default`` if it is not known."""
        return self._features.get(feature, default)

    def hasFeature(self, feature: str) -> bool:
        """Say whether the server announced ``feature`` (or it is a default)."""
        return feature in self._features

    def parse(self, params: Sequence[str]) -> None:
        """Take in the parameters of one RPL_ISUPPORT line (``-KEY`` removes one)."""
        for param in params:
            key, value = self._splitParam(param)
            if key.startswith("-"):
                self._features.pop(key[1:], None)
            elif key:
                self._features[key] = self.dispatch(key, value)

    def dispatch(self, key: str, value: list[str]) -> Any:
        """Parse ``value`` with ``isupport_<key>``, or keep it as a tuple."""
        method = getattr(self, "isupport_" + key, None)
        if method is None:
            return self.isupport_unknown(value)
        return method(value)

    def isupport_unknown(self, params: list[str]) -> tuple[str, ...]:
        """A feature without a parser of its own: its values as a tuple."""
        return tuple(params)

    @staticmethod
    def _first(params: list[str]) -> str:
        return params[0] if params else ""

    def isupport_CHANLIMIT(self, params: list[str]) -> list[tuple[str, Any]]:
        """How many channels of each type one may join."""
        return self._splitParamArgs(params, _intOrDefault)

    def isupport_CHANMODES(self, params: list[str]) -> dict[str, str]:
        """Which channel modes take parameters."""
        try:
            return self._parseChanModesParam(params)
        except ValueError:
            return dict(self.getFeature("CHANMODES"))

    def isupport_CHANNELLEN(self, params: list[str]) -> int | None:
        """The longest channel name."""
        return _intOrDefault(self._first(params), self.getFeature("CHANNELLEN"))

    def isupport_CHANTYPES(self, params: list[str]) -> tuple[str, ...]:
        """The characters that start channel names."""
        return tuple(self._first(params))

    def isupport_EXCEPTS(self, params: list[str]) -> str:
        """The ban exception mode."""
        return self._first(params) or "e"

    def isupport_IDCHAN(self, params: list[str]) -> list[tuple[str, Any]]:
        """Safe channel prefixes and their ID lengths."""
        return self._splitParamArgs(params)

    def isupport_INVEX(self, params: list[str]) -> str:
        """The invite exception mode."""
        return self._first(params) or "I"

    def isupport_KICKLEN(self, params: list[str]) -> int | None:
        """The longest kick message."""
        return _intOrDefault(self._first(params))

    def isupport_MAXLIST(self, params: list[str]) -> list[tuple[str, Any]]:
        """The longest ban/exception lists."""
        return self._splitParamArgs(params, _intOrDefault)

    def isupport_MODES(self, params: list[str]) -> int | None:
        """How many parameter modes one MODE line may carry."""
        return _intOrDefault(self._first(params))

    def isupport_NETWORK(self, params: list[str]) -> str:
        """The network's name."""
        return self._first(params)

    def isupport_NICKLEN(self, params: list[str]) -> int | None:
        """The longest nickname."""
        return _intOrDefault(self._first(params), self.getFeature("NICKLEN"))

    def isupport_PREFIX(self, params: list[str]) -> dict[str, tuple[str, int]]:
        """The channel membership prefixes (``@`` for ops ...)."""
        try:
            return self._parsePrefixParam(self._first(params))
        except ValueError:
            return dict(self.getFeature("PREFIX"))

    def isupport_SAFELIST(self, params: list[str]) -> bool:
        """LIST will not flood us off the server."""
        return True

    def isupport_STATUSMSG(self, params: list[str]) -> str:
        """The prefixes that may address a message to part of a channel (``@#chan``)."""
        return self._first(params)

    def isupport_TARGMAX(self, params: list[str]) -> dict[str, Any]:
        """How many targets each command takes."""
        return dict(self._splitParamArgs(params, _intOrDefault))

    def isupport_TOPICLEN(self, params: list[str]) -> int | None:
        """The longest topic."""
        return _intOrDefault(self._first(params))


def parseModes(
    modes: str, params: list[str], paramModes: Sequence[str] = ("", "")
) -> tuple[list[tuple[str, str | None]], list[tuple[str, str | None]]]:
    """Split a MODE change into what was added and what was removed.

    Args:
        modes: the mode string (``+o-v``), starting with ``+`` or ``-``.
        params: the parameters that follow it, consumed in order.
        paramModes: the modes that take a parameter when added and when removed.

    Returns:
        ``(added, removed)``: lists of ``(mode, parameter or None)``.

    Raises:
        IRCBadModes: an empty string or sequence, a mode without its parameter, or
            parameters left over.
    """
    if not modes:
        raise IRCBadModes("the mode string is empty")
    if modes[0] not in "+-":
        raise IRCBadModes(f"the mode string {modes!r} does not start with + or -")
    params = list(params)
    changes: tuple[list[tuple[str, str | None]], list[tuple[str, str | None]]] = ([], [])
    direction = 0
    count = -1
    for ch in modes:
        if ch in "+-":
            if count == 0:
                raise IRCBadModes(f"the mode string {modes!r} has an empty +/- sequence")
            direction = 0 if ch == "+" else 1
            count = 0
            continue
        param = None
        if ch in paramModes[direction]:
            if not params:
                raise IRCBadModes(f"the mode {ch!r} of {modes!r} needs a parameter")
            param = params.pop(0)
        changes[direction].append((ch, param))
        count += 1
    if params:
        raise IRCBadModes(f"the mode string {modes!r} leaves parameters over: {params!r}")
    if count == 0:
        raise IRCBadModes(f"the mode string {modes!r} has an empty +/- sequence")
    return changes
