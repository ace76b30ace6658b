"""A page made with torsion.web.template: an XML template, renderers, a slow part.

Run it and open http://127.0.0.1:8080/ ::

    python examples/web/templatepage.py            # port 8080 of 127.0.0.1
    python examples/web/templatepage.py --port 0   # any free port (it prints which)

The template (templatepage.xml, next to this file) has slots and renderers; the
"recommended" list comes from a renderer that waits half a second (a Deferred from
the reactor's clock) while the rest of the page is already on its way, and the search
box echoes ``?q=`` back, escaped. The guide is docs/web-templates.md.
Tests: tests/web/template/test_example.py.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from torsion.internet import reactor, task
from torsion.web.resource import Resource
from torsion.web.server import Site
from torsion.web.template import Element, Tag, XMLFile, renderElement, renderer, tags

BOOKS = [
    (1, "The Mythical Man-Month", "Frederick P. Brooks", 1975),
    (2, "Structure & Interpretation of Computer Programs", "Abelson & Sussman", 1985),
    (3, "TCP/IP Illustrated <Vol. 1>", "W. Richard Stevens", 1994),
]


class Bookshelf(Element):
    loader = XMLFile(Path(__file__).with_name("templatepage.xml"))

    def __init__(self, query: str) -> None:
        super().__init__()
        self.query = query

    @renderer
    def page(self, request: Any, tag: Tag) -> Tag:
        return tag.fillSlots(title="A bookshelf", query=self.query)

    @renderer
    def searched(self, request: Any, tag: Tag) -> Any:
        return tag if self.query else None

    @renderer
    def books(self, request: Any, tag: Tag) -> Any:
        wanted = self.query.lower()
        for number, title, author, year in BOOKS:
            if wanted in title.lower() or wanted in author.lower():
                yield tag.clone().fillSlots(
                    id=str(number), title=title, author=author, year=str(year)
                )

    @renderer
    def recommended(self, request: Any, tag: Tag) -> Any:
        row = tag.children[0]

        def fill() -> Tag:
            tag.children = [row.clone().fillSlots(title=title) for _, title, _, _ in BOOKS[:2]]
            return tag

        return task.deferLater(reactor, 0.5, fill)

    @renderer
    async def servedAt(self, request: Any, tag: Tag) -> Any:
        return tags.small("served at ", time.strftime("%H:%M:%S"))


class Home(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> Any:
        query = request.args.get(b"q", [b""])[0].decode("utf-8", "replace")
        return renderElement(request, Bookshelf(query))


def main() -> None:
    parser = argparse.ArgumentParser(description="serve a page made from a template")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--interface", default="127.0.0.1")
    options = parser.parse_args()
    port = reactor.listenTCP(options.port, Site(Home()), interface=options.interface)
    print(f"serving http://{options.interface}:{port.getHost().port}/", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
