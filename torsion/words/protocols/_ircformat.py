"""mIRC text formatting: the control codes for bold, colours and the like.

IRC clients mark text up with control characters: ``\\x02`` bold, ``\\x1d`` italic,
``\\x1f`` underline, ``\\x1e`` strike-through, ``\\x11`` monospace, ``\\x16`` reverse,
``\\x0f`` reset, ``\\x03FG[,BG]`` colours (one or two digits each) and ``\\x04RRGGBB[,RRGGBB]``
hex colours. A bot usually wants the plain text: ``stripFormatting`` removes them all.
Twisted's structured API is here too: ``attributes`` (``attributes.bold["hi"]``,
``attributes.fg.red[...]``), ``assembleFormattedText`` (structure to codes) and
``parseFormattedText`` (codes to structure).
Import it from ``torsion.words.protocols.irc``.
Tests: tests/words/test_irc_ctcp.py (the formatting tests).
"""

from __future__ import annotations

import re

__all__ = ["assembleFormattedText", "attributes", "parseFormattedText", "stripFormatting"]

_FORMATTING = re.compile(
    r"\x03(?:[0-9]{1,2}(?:,[0-9]{1,2})?)?"
    r"|\x04(?:[0-9A-Fa-f]{6}(?:,[0-9A-Fa-f]{6})?)?"
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)


def stripFormatting(text: str) -> str:
    """Return ``text`` without mIRC formatting codes (colours, bold, ...)."""
    return _FORMATTING.sub("", text)


# -- structured formatting: Twisted's attributes, parseFormattedText, assembleFormattedText --

_OFF, _BOLD, _UNDERLINE, _REVERSE, _COLOR = "\x0f", "\x02", "\x1f", "\x16", "\x03"

# The 16 standard mIRC colours, by Twisted's names.
_COLORS = (
    "white",
    "black",
    "blue",
    "green",
    "lightRed",
    "red",
    "magenta",
    "orange",
    "yellow",
    "lightGreen",
    "cyan",
    "lightCyan",
    "lightBlue",
    "lightMagenta",
    "gray",
    "lightGray",
)
_COLOR_INDEX = {name: index for index, name in enumerate(_COLORS)}


class _State:
    """The formatting in force at one point of a text."""

    __slots__ = ("background", "bold", "foreground", "reverseVideo", "underline")

    def __init__(self) -> None:
        self.bold = False
        self.underline = False
        self.reverseVideo = False
        self.foreground: int | None = None
        self.background: int | None = None

    def copy(self) -> _State:
        other = _State()
        for name in self.__slots__:
            setattr(other, name, getattr(self, name))
        return other

    def toMIRCControlCodes(self) -> str:
        """The codes that switch plain text to this state."""
        codes = [_OFF]
        if self.bold:
            codes.append(_BOLD)
        if self.underline:
            codes.append(_UNDERLINE)
        if self.reverseVideo:
            codes.append(_REVERSE)
        if self.foreground is not None or self.background is not None:
            color = _COLOR
            if self.foreground is not None:
                color += f"{self.foreground:02d}"
            if self.background is not None:
                color += f",{self.background:02d}"
            codes.append(color)
        return "".join(codes)


class _Attribute:
    """A node of formatted text: ``attr[child, child, ...]`` adds children, returns it."""

    def __init__(self) -> None:
        self.children: list[_Attribute | str] = []

    def __getitem__(self, item: object) -> _Attribute:
        items = item if isinstance(item, tuple) else (item,)
        for child in items:
            if not isinstance(child, _Attribute | str):
                raise TypeError(f"formatted text holds str and attributes, not {child!r}")
            self.children.append(child)
        return self

    def _key(self) -> tuple[object, ...]:
        return ()

    def __eq__(self, other: object) -> bool:
        return (
            type(self) is type(other)
            and isinstance(other, _Attribute)
            and self._key() == other._key()
            and self.children == other.children
        )

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}{self._key()!r} {self.children!r}>"

    def _apply(self, state: _State) -> _State:
        return state

    def _serialize(self, write: list[str], state: _State) -> None:
        state = self._apply(state.copy())
        for child in self.children:
            if isinstance(child, _Attribute):
                child._serialize(write, state)
            elif child:
                write.append(state.toMIRCControlCodes())
                write.append(child)


class _NormalAttr(_Attribute):
    """Plain text: every attribute off."""

    def _apply(self, state: _State) -> _State:
        return _State()


class _OtherAttr(_Attribute):
    """Bold, underline or reverse video, on (or off, negated: ``-attributes.bold``)."""

    def __init__(self, attrname: str, attrvalue: bool) -> None:
        super().__init__()
        self.attrname = attrname
        self.attrvalue = attrvalue

    def __neg__(self) -> _OtherAttr:
        negated = _OtherAttr(self.attrname, not self.attrvalue)
        negated.children = list(self.children)
        return negated

    def _key(self) -> tuple[object, ...]:
        return (self.attrname, self.attrvalue)

    def _apply(self, state: _State) -> _State:
        setattr(state, self.attrname, self.attrvalue)
        return state


class _ColorAttr(_Attribute):
    """A foreground or background colour (an mIRC colour number)."""

    def __init__(self, color: int, ground: str) -> None:
        super().__init__()
        self.color = color
        self.ground = ground

    def _key(self) -> tuple[object, ...]:
        return (self.color, self.ground)

    def _apply(self, state: _State) -> _State:
        setattr(state, self.ground, self.color)
        return state


class _ColorAttribute:
    """``attributes.fg`` / ``attributes.bg``: ``.red``, ``.lightBlue`` ... by name."""

    def __init__(self, ground: str) -> None:
        self._ground = ground

    def __getattr__(self, name: str) -> _ColorAttr:
        try:
            return _ColorAttr(_COLOR_INDEX[name], self._ground)
        except KeyError:
            raise AttributeError(
                f"{name!r} is not an IRC colour; use one of {', '.join(_COLORS)}"
            ) from None


class _CharacterAttributes:
    """Twisted's ``attributes``: ``normal``, ``bold``, ``underline``, ``reverseVideo``,
    ``fg.<colour>`` and ``bg.<colour>``; each use makes a fresh node."""

    @property
    def normal(self) -> _NormalAttr:
        return _NormalAttr()

    @property
    def bold(self) -> _OtherAttr:
        return _OtherAttr("bold", True)

    @property
    def underline(self) -> _OtherAttr:
        return _OtherAttr("underline", True)

    @property
    def reverseVideo(self) -> _OtherAttr:
        return _OtherAttr("reverseVideo", True)

    fg = _ColorAttribute("foreground")
    bg = _ColorAttribute("background")


attributes = _CharacterAttributes()


def assembleFormattedText(formatted: _Attribute) -> str:
    """Turn structured text (``attributes.bold["hi"]``) into mIRC control codes.

    Each run of text is preceded by the codes of its whole state (a reset, then what
    is on), so the result reads the same wherever it is cut or pasted.
    """
    out: list[str] = []
    formatted._serialize(out, _State())
    return "".join(out)


_CONTROL = re.compile(
    r"(\x03(?:([0-9]{1,2})(?:,([0-9]{1,2}))?)?"
    r"|\x04(?:[0-9A-Fa-f]{6}(?:,[0-9A-Fa-f]{6})?)?"
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f])"
)


def parseFormattedText(text: str) -> _Attribute:
    """Parse mIRC-formatted text into structured text (the reverse of assemble).

    Bold, underline, reverse video and the 16 colours (and colour numbers up to 99)
    are kept; italics, strike-through, monospace and hex colours are dropped.
    """
    result = attributes.normal
    state = _State()
    position = 0
    for match in _CONTROL.finditer(text):
        _emit(result, state, text[position : match.start()])
        position = match.end()
        code = match.group(1)
        first = code[0]
        if first == _BOLD:
            state.bold = not state.bold
        elif first == _UNDERLINE:
            state.underline = not state.underline
        elif first == _REVERSE:
            state.reverseVideo = not state.reverseVideo
        elif first == _OFF:
            state = _State()
        elif first == _COLOR:
            fg, bg = match.group(2), match.group(3)
            if fg is None:
                state.foreground = state.background = None
            else:
                state.foreground = int(fg)
                if bg is not None:
                    state.background = int(bg)
    _emit(result, state, text[position:])
    return result


def _emit(result: _Attribute, state: _State, run: str) -> None:
    if not run:
        return
    node: _Attribute | str = run
    for attr, on in (
        (
            _ColorAttr(state.background, "background") if state.background is not None else None,
            True,
        ),
        (
            _ColorAttr(state.foreground, "foreground") if state.foreground is not None else None,
            True,
        ),
        (_OtherAttr("reverseVideo", True), state.reverseVideo),
        (_OtherAttr("underline", True), state.underline),
        (_OtherAttr("bold", True), state.bold),
    ):
        if attr is not None and on:
            node = attr[node]
    result[node]
