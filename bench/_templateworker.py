"""Template flattening for bench/template.py: one side (torsion or Twisted) per process.

Run as ``python bench/_templateworker.py SIDE COMMAND ...``, where SIDE is one of
``SIDES``:

``check``
    Print one JSON line: ``{"ok": true, "versions": ...}`` if this side's
    ``web.template`` imports here, else ``{"ok": false, "reason": ...}``.
``measure CASE SECONDS WARMUP``
    Flatten CASE's page with ``flattenString`` over and over, WARMUP seconds first and
    then SECONDS measured, and print one JSON line ``{"pages", "seconds", "cpu",
    "bytes", "sha256"}``: the pages made in the window, its wall and CPU seconds, the
    size of one page and its SHA-256 (the driver checks both sides make the same
    bytes).

The cases (``CASES``) make the same 1,000-row table of items (id, name, price, a link),
one in ten names holding text to escape:

``xml``
    An ``Element`` whose ``XMLString`` template has the row once; a renderer clones it
    per item and fills its slots (text and a ``t:attr`` link): the pattern of Twisted's
    guide.
``stan``
    The same table built with ``tags`` on every page, then flattened (so the cost of
    building the tree is in it, as it is in a page made that way).
``deferred``
    The xml page, but each row comes from an already-fired Deferred (as rows from a
    cache or a finished query do).

The page code is written once against Twisted's names, which torsion keeps; this file
imports neither framework at module level, since Twisted's side runs under
bench/.venv-twisted's interpreter. Tests: tests/bench/test_template_smoke.py.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import platform
import sys
import time
from typing import Any

SIDES = {"torsion": "torsion", "twisted": "twisted"}
CASES = ["xml", "stan", "deferred"]
ROWS = 1000

TEMPLATE = """<html xmlns:t="http://twistedmatrix.com/ns/twisted.web.template/0.1" t:render="page">
<head><title><t:slot name="title"/></title></head>
<body>
<h1><t:slot name="title"/></h1>
<table class="items">
<tr><th>id</th><th>name</th><th>price</th></tr>
<tr t:render="rows" class="row"><td><t:slot name="id"/></td><td><a><t:attr name="href">/items/<t:slot name="id"/></t:attr><t:slot name="name"/></a></td><td class="price"><t:slot name="price"/></td></tr>
</table>
<p t:render="footer"/>
</body>
</html>"""  # noqa: E501


def items() -> list[tuple[int, str, float]]:
    return [
        (i, f"item {i} <special> & co" if i % 10 == 0 else f"item {i}", i * 1.5)
        for i in range(ROWS)
    ]


def pages(framework: str) -> dict[str, Any]:
    """The case name -> a function making a new page tree, for ``framework``."""
    template = importlib.import_module(f"{framework}.web.template")
    defer = importlib.import_module(f"{framework}.internet.defer")
    Element, XMLString, renderer, tags = (
        template.Element,
        template.XMLString,
        template.renderer,
        template.tags,
    )
    rows = items()
    loader = XMLString(TEMPLATE)

    class Page(Element):  # type: ignore[misc,valid-type]
        def __init__(self, fromDeferreds: bool = False) -> None:
            super().__init__(loader)
            self.fromDeferreds = fromDeferreds

        @renderer
        def page(self, request: Any, tag: Any) -> Any:
            return tag.fillSlots(title="Items")

        @renderer
        def rows(self, request: Any, tag: Any) -> Any:
            for number, name, price in rows:
                row = tag.clone().fillSlots(id=str(number), name=name, price=f"{price:.2f}")
                yield defer.succeed(row) if self.fromDeferreds else row

        @renderer
        def footer(self, request: Any, tag: Any) -> Any:
            return tag(f"{len(rows)} items")

    def stan() -> Any:
        return tags.html(
            "\n",
            tags.head(tags.title("Items")),
            "\n",
            tags.body(
                "\n",
                tags.h1("Items"),
                "\n",
                tags.table(class_="items")(
                    "\n",
                    tags.tr(tags.th("id"), tags.th("name"), tags.th("price")),
                    "\n",
                    [
                        tags.tr(class_="row")(
                            tags.td(str(number)),
                            tags.td(tags.a(name, href=f"/items/{number}")),
                            tags.td(f"{price:.2f}", class_="price"),
                        )
                        for number, name, price in rows
                    ],
                    "\n",
                ),
                "\n",
                tags.p(f"{len(rows)} items"),
                "\n",
            ),
        )

    return {"xml": Page, "stan": stan, "deferred": lambda: Page(fromDeferreds=True)}


def flattenOnce(flattenString: Any, make: Any) -> bytes:
    box: list[Any] = []
    flattenString(None, make()).addBoth(box.append)
    if not box or not isinstance(box[0], bytes):
        raise SystemExit(f"flattening failed: {box[0] if box else 'it did not finish'}")
    return bytes(box[0])


def measure(framework: str, case: str, seconds: float, warmup: float) -> dict[str, Any]:
    template = importlib.import_module(f"{framework}.web.template")
    make = pages(framework)[case]
    page = flattenOnce(template.flattenString, make)
    end = time.perf_counter() + warmup
    while time.perf_counter() < end:
        flattenOnce(template.flattenString, make)
    count = 0
    startWall, startCpu = time.perf_counter(), time.process_time()
    end = startWall + seconds
    while True:
        flattenOnce(template.flattenString, make)
        count += 1
        now = time.perf_counter()
        if now >= end:
            break
    return {
        "pages": count,
        "seconds": now - startWall,
        "cpu": time.process_time() - startCpu,
        "bytes": len(page),
        "sha256": hashlib.sha256(page).hexdigest(),
    }


def check(framework: str) -> dict[str, Any]:
    try:
        module = importlib.import_module(framework)
        importlib.import_module(f"{framework}.web.template")
    except Exception as e:  # Any failure to import means: not available here.
        return {"ok": False, "reason": f"{type(e).__name__}: {e}"}
    versions = {"python": platform.python_version()}
    versions[framework] = getattr(module, "__version__", "?")
    return {"ok": True, "reactor": "none (flattenString only)", "versions": versions}


def main() -> int:
    usage = (
        f"usage: {sys.argv[0]} SIDE check|measure CASE SECONDS WARMUP; SIDE is one of "
        f"{', '.join(SIDES)}, CASE one of {', '.join(CASES)}"
    )
    if len(sys.argv) < 3 or sys.argv[1] not in SIDES:
        raise SystemExit(usage)
    framework, command = SIDES[sys.argv[1]], sys.argv[2]
    if command == "check" and len(sys.argv) == 3:
        print(json.dumps(check(framework)), flush=True)
    elif command == "measure" and len(sys.argv) == 6 and sys.argv[3] in CASES:
        result = measure(framework, sys.argv[3], float(sys.argv[4]), float(sys.argv[5]))
        print(json.dumps(result), flush=True)
    else:
        raise SystemExit(usage)
    return 0


if __name__ == "__main__":
    sys.exit(main())
