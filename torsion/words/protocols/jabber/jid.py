"""Jabber IDs (JIDs): parsing, normalisation and comparison of XMPP addresses.

A JID is ``[node@]domain[/resource]``. Two JIDs name the same entity when their
parts are equal after preparation, which RFC 6122 defines with three stringprep
profiles (RFC 3454): Nodeprep for the node (case-folded, with ``"&'/:<>@`` and
spaces refused), Nameprep for the domain (case-folded, each label checked as an
internationalised domain name label) and Resourceprep for the resource (case kept).
They are built here on the standard library's ``stringprep`` and ``unicodedata``
tables: mapping (B.1, B.2), NFKC, the prohibited tables, the bidirectional rule and
unassigned code points (refused: a JID is a stored identifier). Every part is at most
1023 bytes of UTF-8, as the RFC says.

``JID`` is Twisted's class (``user``, ``host``, ``resource``, ``full()``,
``userhost()``, ``userhostJID()``), ``parse`` and ``prep`` its functions, and
``internJID`` keeps one JID object per distinct string. Invalid input raises
``InvalidFormat`` saying which part is wrong and why.
Tests: tests/words/test_jabberjid.py.
"""

from __future__ import annotations

import ipaddress
import stringprep
import unicodedata
from collections.abc import Callable
from typing import Any

__all__ = ["JID", "InvalidFormat", "internJID", "parse", "prep"]

_MAX_PART = 1023


class InvalidFormat(ValueError):
    """The string is not a valid JID (the message says which part and why)."""


# -- the stringprep profiles --------------------------------------------------------

_Table = Callable[[str], bool]

# Prohibited output, RFC 3454 appendix C, as each profile lists it.
_COMMON_PROHIBITED: tuple[tuple[_Table, str], ...] = (
    (stringprep.in_table_c12, "a non-ASCII space"),
    (stringprep.in_table_c22, "a non-ASCII control character"),
    (stringprep.in_table_c3, "a private use character"),
    (stringprep.in_table_c4, "a non-character code point"),
    (stringprep.in_table_c5, "a surrogate code point"),
    (stringprep.in_table_c6, "a character inappropriate for plain text"),
    (stringprep.in_table_c7, "a character inappropriate for canonical representation"),
    (stringprep.in_table_c8, "a character that changes display or is deprecated"),
    (stringprep.in_table_c9, "a tagging character"),
)
_NODE_PROHIBITED = (
    (stringprep.in_table_c11, "a space"),
    (stringprep.in_table_c21, "a control character"),
    *_COMMON_PROHIBITED,
)
_RESOURCE_PROHIBITED = (
    (stringprep.in_table_c21, "a control character"),
    *_COMMON_PROHIBITED,
)
_DOMAIN_PROHIBITED = _COMMON_PROHIBITED
_NODE_EXCLUDED = frozenset("\"&'/:<>@")


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def _stringprep(
    text: str,
    part: str,
    caseFold: bool,
    prohibited: tuple[tuple[_Table, str], ...],
) -> str:
    """Map, normalise and check ``text`` as one of the profiles (RFC 3454 sections 3-7)."""
    if text.isascii():
        # The common case, without the table look-ups that cannot apply to ASCII.
        mapped = text.lower() if caseFold else text
        for char in mapped:
            if (char <= " " or char == "\x7f") and not (char == " " and not caseFold):
                what = "a space" if char == " " else "a control character"
                raise InvalidFormat(f"the {part} may not contain {what} ({_describe(char)})")
        return mapped
    out: list[str] = []
    for char in text:
        if stringprep.in_table_b1(char):
            continue  # Commonly mapped to nothing (soft hyphen, zero-width joiners, ...).
        out.append(stringprep.map_table_b2(char) if caseFold else char)
    mapped = unicodedata.normalize("NFKC", "".join(out))
    hasRandAL = hasL = False
    for char in mapped:
        for inTable, what in prohibited:
            if inTable(char):
                raise InvalidFormat(f"the {part} may not contain {what} ({_describe(char)})")
        if stringprep.in_table_a1(char):
            raise InvalidFormat(
                f"the {part} may not contain {_describe(char)}, which is not "
                f"assigned in Unicode 3.2 (stringprep's repertoire)"
            )
        if stringprep.in_table_d1(char):
            hasRandAL = True
        elif stringprep.in_table_d2(char):
            hasL = True
    if hasRandAL:
        if hasL:
            raise InvalidFormat(f"the {part} mixes right-to-left and left-to-right characters")
        if not (stringprep.in_table_d1(mapped[0]) and stringprep.in_table_d1(mapped[-1])):
            raise InvalidFormat(
                f"the {part} has right-to-left characters, so it must start and end with one"
            )
    return mapped


def _checkLength(prepared: str, part: str) -> None:
    if len(prepared.encode("utf-8")) > _MAX_PART:
        raise InvalidFormat(f"the {part} is longer than {_MAX_PART} bytes")


def nodeprep(node: str) -> str:
    """Prepare a JID's node (its part before ``@``) with Nodeprep."""
    prepared = _stringprep(node, "node of a JID", True, _NODE_PROHIBITED)
    for char in prepared:
        if char in _NODE_EXCLUDED:
            raise InvalidFormat(f"the node of a JID may not contain {char!r}")
    if not prepared:
        raise InvalidFormat("the node of a JID is empty; leave out the '@' for no node")
    _checkLength(prepared, "node of a JID")
    return prepared


def resourceprep(resource: str) -> str:
    """Prepare a JID's resource (its part after ``/``) with Resourceprep."""
    prepared = _stringprep(resource, "resource of a JID", False, _RESOURCE_PROHIBITED)
    if not prepared:
        raise InvalidFormat("the resource of a JID is empty; leave out the '/' for none")
    _checkLength(prepared, "resource of a JID")
    return prepared


def nameprep(domain: str) -> str:
    """Prepare a JID's domain with Nameprep, label by label (or check an IP literal)."""
    if domain.startswith("[") and domain.endswith("]"):
        try:
            return "[" + str(ipaddress.IPv6Address(domain[1:-1])) + "]"
        except ValueError:
            raise InvalidFormat(f"the domain {domain!r} is not a valid IPv6 literal") from None
    # Full stops of other scripts separate labels too (RFC 3490 section 3.1).
    for dot in "\u3002\uff0e\uff61":
        domain = domain.replace(dot, ".")
    if domain.endswith("."):
        domain = domain[:-1]
    if not domain:
        raise InvalidFormat("the domain of a JID is empty")
    labels = []
    for label in domain.split("."):
        if not label:
            raise InvalidFormat(f"the domain {domain!r} of a JID has an empty label")
        prepared = _stringprep(label, "domain of a JID", True, _DOMAIN_PROHIBITED)
        if not prepared:
            raise InvalidFormat(
                f"the domain {domain!r} of a JID has a label that prepares to nothing"
            )
        for char in prepared:
            if char.isascii() and not (char.isalnum() or char in "-_"):
                raise InvalidFormat(
                    f"the domain of a JID may not contain {char!r} (label {label!r})"
                )
        if prepared.isascii():
            if len(prepared) > 63:
                raise InvalidFormat(f"the domain label {label!r} is longer than 63 characters")
        else:
            try:
                if len(prepared.encode("idna")) > 63:
                    raise InvalidFormat(f"the domain label {label!r} is too long once encoded")
            except UnicodeError as e:
                raise InvalidFormat(f"the domain label {label!r} is not valid: {e}") from None
        if prepared.startswith("-") or prepared.endswith("-"):
            raise InvalidFormat(f"the domain label {label!r} may not start or end with '-'")
        labels.append(prepared)
    result = ".".join(labels)
    _checkLength(result, "domain of a JID")
    return result


# -- parsing ------------------------------------------------------------------------


def parse(jidstring: str) -> tuple[str | None, str, str | None]:
    """Split ``jidstring`` into prepared ``(user, host, resource)``.

    User and resource are None when absent.

    Raises:
        InvalidFormat: if the string is not a valid JID.
    """
    if not isinstance(jidstring, str):
        raise TypeError(f"a JID is text, not {type(jidstring).__name__}; decode it first")
    slash = jidstring.find("/")
    if slash == -1:
        rest, resource = jidstring, None
    else:
        rest, resource = jidstring[:slash], jidstring[slash + 1 :]
    at = rest.find("@")
    if at == -1:
        user, host = None, rest
    else:
        user, host = rest[:at], rest[at + 1 :]
        if "@" in host:
            raise InvalidFormat(f"the JID {jidstring!r} has more than one '@' before its '/'")
    return prep(user, host, resource)


def prep(user: str | None, host: str, resource: str | None) -> tuple[str | None, str, str | None]:
    """Prepare each part of a JID (Nodeprep, Nameprep, Resourceprep).

    Raises:
        InvalidFormat: if a part is not valid.
    """
    return (
        nodeprep(user) if user is not None else None,
        nameprep(host),
        resourceprep(resource) if resource is not None else None,
    )


_internJIDs: dict[str, JID] = {}
_INTERN_LIMIT = 10_000


def internJID(jidstring: str) -> JID:
    """Return the one shared JID object for ``jidstring`` (parsed once).

    The cache is bounded: past 10,000 distinct strings it starts again, so peers sending
    endless new addresses cannot grow it without limit.
    """
    found = _internJIDs.get(jidstring)
    if found is None:
        found = JID(jidstring)
        if len(_internJIDs) >= _INTERN_LIMIT:
            _internJIDs.clear()
        _internJIDs[jidstring] = found
    return found


class JID:
    """A prepared Jabber ID; equal JIDs compare and hash equal.

    Args:
        str: the JID as text (``"user@host/resource"``), parsed and prepared.
        tuple: ``(user, host, resource)``, prepared (user and resource may be None).

    Raises:
        InvalidFormat: if the JID is not valid.
    """

    __slots__ = ("host", "resource", "user")

    def __init__(
        self,
        str: str | None = None,
        tuple: tuple[str | None, str, str | None] | None = None,
    ) -> None:
        if str is not None:
            self.user, self.host, self.resource = parse(str)
        elif tuple is not None:
            self.user, self.host, self.resource = prep(*tuple)
        else:
            raise TypeError("JID needs a string (str=...) or a (user, host, resource) tuple")

    def userhost(self) -> str:
        """Return the bare JID as text: ``user@host`` (or ``host``)."""
        return f"{self.user}@{self.host}" if self.user is not None else self.host

    def userhostJID(self) -> JID:
        """Return the bare JID (this one without its resource)."""
        if self.resource is None:
            return self
        return internJID(self.userhost())

    def full(self) -> str:
        """Return the whole JID as text."""
        bare = self.userhost()
        return bare + "/" + self.resource if self.resource is not None else bare

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JID):
            return NotImplemented
        return (
            self.user == other.user and self.host == other.host and self.resource == other.resource
        )

    def __hash__(self) -> int:
        return hash((self.user, self.host, self.resource))

    def __str__(self) -> str:
        return self.full()

    def __repr__(self) -> str:
        return f"JID({self.full()!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (JID, (self.full(),))
