"""The pages of examples/web/site.tac, in a module so that a saved state finds them.

Tests: tests/web/test_examples.py.
"""

from typing import Any

from torsion.web import resource


class Home(resource.Resource):
    """The page at /."""

    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        return b'<p>home page; see <a href="/foo/">/foo/</a></p>'


class Foo(resource.Resource):
    """The page at /foo/ (and /foo, which has no trailing slash)."""

    def render_GET(self, request: Any) -> bytes:
        return b"<p>the foo page</p>"
