"""Elements: a template loader plus the renderer methods its tags name.

An ``Element`` is an IRenderable whose ``render`` is its loader's tag tree; a tag in it
with ``render="name"`` (``t:render`` in XML) is handed, while the page is flattened,
to the element's method of that name, which must be marked with ``@renderer`` (so a
template cannot call any other method). ``TagLoader`` makes a loader of a tag built
in Python. Tests: tests/web/template/test_element.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from zope.interface import implementer

from torsion.web._stan import Flattenable, Tag
from torsion.web.error import MissingRenderMethod, MissingTemplateLoader
from torsion.web.iweb import IRenderable, ITemplateLoader

__all__ = ["Element", "TagLoader", "renderer"]

_F = TypeVar("_F", bound=Callable[..., Any])

_RENDERER_MARK = "__torsion_renderer__"


class _Renderer:
    """The ``@renderer`` decorator: marks a method as one a template may call.

    ``renderer.get(instance, name)`` is the marked method of that name bound to
    ``instance`` (or the default), what Element.lookupRenderMethod uses.
    """

    __slots__ = ()

    def __call__(self, function: _F) -> _F:
        setattr(function, _RENDERER_MARK, True)
        return function

    def get(self, instance: object, name: str, default: Any = None) -> Any:
        method = _renderers(type(instance)).get(name)
        if method is None:
            return default
        return method.__get__(instance, type(instance))

    def __repr__(self) -> str:
        return "renderer"


renderer = _Renderer()

_renderersByClass: dict[type, dict[str, Any]] = {}


def _renderers(cls: type) -> dict[str, Any]:
    """The ``@renderer`` functions of ``cls`` by name (a subclass's override wins)."""
    found = _renderersByClass.get(cls)
    if found is None:
        found = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                function = getattr(value, "__func__", value)
                if getattr(function, _RENDERER_MARK, False):
                    found[name] = value
                else:
                    found.pop(name, None)
        _renderersByClass[cls] = found
    return found


@implementer(IRenderable)
class Element:
    """A piece of a page: a template (``loader``) and the renderers it names.

    Subclass it, set ``loader`` on the class (or pass ``loader=``) and add methods
    decorated with ``@renderer``; each takes ``(request, tag)`` and returns anything
    flattenable, a Deferred or a coroutine included.
    """

    loader: ITemplateLoader | Any = None

    def __init__(self, loader: ITemplateLoader | Any = None) -> None:
        if loader is not None:
            self.loader = loader

    def lookupRenderMethod(self, name: str) -> Callable[[Any, Tag], Flattenable]:
        """The ``@renderer`` method ``name``; MissingRenderMethod if there is none."""
        method = renderer.get(self, name)
        if method is None:
            raise MissingRenderMethod(self, name)
        return method  # type: ignore[no-any-return]

    def render(self, request: Any) -> Flattenable:
        """The loader's tree (each request gets the same tree: renderers get copies)."""
        loader = self.loader
        if loader is None:
            raise MissingTemplateLoader(self)
        return loader.load()


@implementer(ITemplateLoader)
class TagLoader:
    """A loader for a tag built in Python (``TagLoader(tags.div(render="x"))``)."""

    __slots__ = ("tag",)

    def __init__(self, tag: Flattenable) -> None:
        self.tag = tag

    def load(self) -> list[Flattenable]:
        return [self.tag]
