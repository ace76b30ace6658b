"""Elements and renderers: lookup, the tag a renderer gets, loaders, and their errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.template._helpers import flat, flatFails
from torsion.web.error import MissingRenderMethod, MissingTemplateLoader
from torsion.web.iweb import IRenderable
from torsion.web.template import Element, Tag, TagLoader, renderer, slot, tags


class Greeting(Element):
    loader = TagLoader(tags.p(render="name", class_="greeting")("Hello, ", slot("who"), "!"))

    def __init__(self, who: str) -> None:
        super().__init__()
        self.who = who
        self.seen: list[Any] = []

    @renderer
    def name(self, request: Any, tag: Tag) -> Tag:
        self.seen.append((request, tag))
        return tag.fillSlots(who=self.who)

    def notARenderer(self, request: Any, tag: Tag) -> str:
        return "secret"


def test_elementRendersItsTemplateThroughItsRenderers() -> None:
    assert flat(Greeting("world")) == b'<p class="greeting">Hello, world!</p>'


def test_elementProvidesIRenderable() -> None:
    assert IRenderable.providedBy(Greeting("x"))


def test_rendererGetsTheRequestAndACopyOfTheTag() -> None:
    element = Greeting("you")
    request = object()
    flat(element, request)
    [(seenRequest, tag)] = element.seen
    assert seenRequest is request
    assert tag.render is None
    template = element.loader.load()[0]
    assert tag is not template
    assert template.slotData is None, "the template itself was changed"


def test_eachRenderingStartsFromTheTemplate() -> None:
    element = Greeting("a")
    assert flat(element) == flat(element)


def test_undecoratedMethodsCannotBeCalledFromATemplate() -> None:
    error = flatFails(_Exposing())
    assert isinstance(error._exception, MissingRenderMethod)
    assert "notARenderer" in str(error._exception)
    assert "@renderer" in str(error._exception)


class _Exposing(Greeting):
    loader = TagLoader(tags.p(render="notARenderer"))

    def __init__(self) -> None:
        super().__init__("x")


def test_subclassOverrideWithoutDecoratorHidesTheRenderer() -> None:
    class Hidden(Greeting):
        def name(self, request: Any, tag: Tag) -> Tag:  # type: ignore[override]
            return tag

    error = flatFails(Hidden("x"))
    assert isinstance(error._exception, MissingRenderMethod)


def test_subclassInheritsRenderers() -> None:
    class Loud(Greeting):
        pass

    assert flat(Loud("x")) == b'<p class="greeting">Hello, x!</p>'


def test_renderer_getBindsOrDefaults() -> None:
    element = Greeting("x")
    assert renderer.get(element, "name").__self__ is element
    assert renderer.get(element, "notARenderer", "none") == "none"


def test_elementWithoutLoaderFailsClearly() -> None:
    error = flatFails(Element())
    assert isinstance(error._exception, MissingTemplateLoader)
    assert "loader" in str(error._exception)


def test_loaderPassedToTheConstructor() -> None:
    assert flat(Element(loader=TagLoader(tags.b("x")))) == b"<b>x</b>"


def test_renderOutsideAnElementFailsClearly() -> None:
    error = flatFails(tags.div(tags.p(render="x")))
    assert isinstance(error._exception, ValueError)
    assert "not inside an Element" in str(error._exception)


def test_nestedElementsUseTheirOwnRenderers() -> None:
    class Outer(Element):
        loader = TagLoader(tags.div(render="inner"))

        @renderer
        def inner(self, request: Any, tag: Tag) -> Any:
            return tag(Greeting("inside"), tags.span(render="mine"))

        @renderer
        def mine(self, request: Any, tag: Tag) -> Any:
            return "outer's"

    assert flat(Outer()) == b'<div><p class="greeting">Hello, inside!</p>outer\'s</div>'


def test_rendererResultMayBeAnything() -> None:
    class Many(Element):
        loader = TagLoader(tags.ul(render="items"))

        @renderer
        def items(self, request: Any, tag: Tag) -> Any:
            return (tags.li(str(n)) for n in range(3))

    assert flat(Many()) == b"<li>0</li><li>1</li><li>2</li>"


def test_rendererSeesTheSlotsOfItsTag() -> None:
    class Slots(Element):
        loader = TagLoader(
            tags.div(tags.p(render="r", title=slot("t"))(slot("t"))).fillSlots(t="T")
        )

        @renderer
        def r(self, request: Any, tag: Tag) -> Any:
            return tag

    assert flat(Slots()) == b'<div><p title="T">T</p></div>'


@pytest.mark.parametrize("value", [3, 2.5, object()])
def test_unsupportedTypesFailClearly(value: object) -> None:
    error = flatFails(tags.p(value))
    assert "cannot flatten" in str(error._exception)
    assert "str()" in str(error._exception)
