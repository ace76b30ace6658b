"""Path queries on XML elements: the XPath subset that XMPP observers are written in.

``XPathQuery("/iq[@type='result']/query[@xmlns='jabber:iq:roster']")`` matches an
element named ``iq`` with that attribute which has a child ``query`` in that
namespace. A query is a chain of steps from the element itself (``/name`` or ``/*``)
down through its children; each step may carry predicates ``[@attr]`` (present),
``[@attr='value']`` (equal; ``@xmlns`` is the element's namespace) and
``[@a='x' and @b='y']``. A query that starts with ``//`` matches at any depth. That
covers what Twisted's XMPP code passes to ``addObserver``; anything else is refused
with a clear error rather than matching nothing.
Tests: tests/words/test_jabberxish.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from torsion.protocols._xmlelement import Element

__all__ = ["XPathQuery", "internQuery", "matches", "queryForNodes", "queryForString"]

_STEP = re.compile(r"(\*|[^\s/\[\]@=\"'*]+)((?:\[[^\]]*\])*)")
_TEST = re.compile(r"""\s*@([^\s=\]]+)\s*(?:=\s*(?:'([^']*)'|"([^"]*)"))?\s*""")

_Predicate = tuple[str, str | None]


class _Step:
    __slots__ = ("name", "predicates")

    def __init__(self, name: str | None, predicates: list[_Predicate]) -> None:
        self.name = name
        self.predicates = predicates

    def test(self, element: Element) -> bool:
        if self.name is not None and element.name != self.name:
            return False
        for attribute, value in self.predicates:
            if attribute == "xmlns":
                actual: str | None = element.uri
            else:
                actual = element.attributes.get(attribute)
            if actual is None or (value is not None and actual != value):
                return False
        return True


class XPathQuery:
    """A compiled path query (see the module's documentation).

    Raises:
        ValueError: if ``queryStr`` uses XPath beyond the supported subset.
    """

    __slots__ = ("anywhere", "queryStr", "steps")

    def __init__(self, queryStr: str) -> None:
        self.queryStr = queryStr
        text = queryStr.strip()
        self.anywhere = text.startswith("//")
        if not text.startswith("/"):
            raise ValueError(f"the path query {queryStr!r} must start with '/'")
        self.steps: list[_Step] = []
        for part in _splitSteps(text.lstrip("/"), queryStr):
            match = _STEP.fullmatch(part)
            if match is None or match.group(1) in (".", ".."):
                raise ValueError(
                    f"the path query {queryStr!r} has a step {part!r} that is not "
                    f"'name' or '*' followed by [@attr] or [@attr='value'] tests"
                )
            name = None if match.group(1) == "*" else match.group(1)
            predicates: list[_Predicate] = []
            for predicate in re.findall(r"\[([^\]]*)\]", match.group(2)):
                for test in re.split(r"\s+and\s+", predicate.strip()):
                    found = _TEST.fullmatch(test)
                    if found is None:
                        raise ValueError(
                            f"the path query {queryStr!r} has a test [{predicate}] that is "
                            f"not @attr or @attr='value'"
                        )
                    value = found.group(2) if found.group(2) is not None else found.group(3)
                    predicates.append((found.group(1), value))
            self.steps.append(_Step(name, predicates))

    def __repr__(self) -> str:
        return f"XPathQuery({self.queryStr!r})"

    def matches(self, elem: Element) -> bool:
        """Return whether ``elem`` matches the query."""
        if self.anywhere:
            return any(True for _ in self._found(elem, 0, True))
        return any(True for _ in self._found(elem, 0, False))

    def queryForNodes(self, elem: Element) -> list[Element] | None:
        """Return the elements the query's last step selects, or None if there are none."""
        nodes = list(self._found(elem, 0, self.anywhere))
        return nodes or None

    def queryForString(self, elem: Element) -> str:
        """Return the text of the first selected element ('' if none)."""
        nodes = self.queryForNodes(elem)
        return str(nodes[0]) if nodes else ""

    def _found(self, elem: Element, index: int, anywhere: bool) -> Iterator[Element]:
        step = self.steps[index]
        if step.test(elem):
            if index + 1 == len(self.steps):
                yield elem
            else:
                for child in elem.elements():
                    yield from self._found(child, index + 1, False)
        if anywhere:
            for child in elem.elements():
                yield from self._found(child, index, True)


def _splitSteps(text: str, queryStr: str) -> list[str]:
    steps: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "/" and depth == 0:
            steps.append("".join(current))
            current = []
        else:
            current.append(char)
    steps.append("".join(current))
    if depth != 0 or any(not step for step in steps):
        raise ValueError(f"the path query {queryStr!r} is not well-formed")
    return steps


_queryCache: dict[str, XPathQuery] = {}


def internQuery(queryString: str) -> XPathQuery:
    """Return the compiled query for ``queryString``, compiling each string once."""
    query = _queryCache.get(queryString)
    if query is None:
        query = _queryCache[queryString] = XPathQuery(queryString)
    return query


def matches(xpathstr: str, elem: Element) -> bool:
    """Return whether ``elem`` matches the query ``xpathstr``."""
    return internQuery(xpathstr).matches(elem)


def queryForNodes(xpathstr: str, elem: Element) -> list[Element] | None:
    """Return the elements of ``elem`` that ``xpathstr`` selects, or None."""
    return internQuery(xpathstr).queryForNodes(elem)


def queryForString(xpathstr: str, elem: Element) -> str:
    """Return the text of the first element of ``elem`` that ``xpathstr`` selects."""
    return internQuery(xpathstr).queryForString(elem)
