"""URLPath: the URLs around a page, made from it."""

from __future__ import annotations

import pytest

from torsion.python.urlpath import URLPath


def test_parts_and_text() -> None:
    url = URLPath.fromString("http://example.com/a/b?x=1#top")
    assert (url.scheme, url.netloc, url.path, url.query, url.fragment) == (
        "http",
        "example.com",
        "/a/b",
        "x=1",
        "top",
    )
    assert str(url) == "http://example.com/a/b?x=1#top"
    assert bytes(URLPath.fromBytes(b"http://h/p")) == b"http://h/p"


def test_neighbours() -> None:
    url = URLPath.fromString("http://h/a/b?q=1")
    assert str(url.child("c")) == "http://h/a/b/c"
    assert str(url.sibling("z")) == "http://h/a/z"
    assert str(url.parent()) == "http://h/"
    assert str(url.here()) == "http://h/a/"
    assert str(url.child("c d", keepQuery=True)) == "http://h/a/b/c%20d?q=1"
    assert str(URLPath.fromString("http://h/dir/").child("f")) == "http://h/dir/f"


def test_click_follows_links() -> None:
    url = URLPath.fromString("http://h/a/b")
    assert str(url.click("c")) == "http://h/a/c"
    assert str(url.click("/root")) == "http://h/root"
    assert str(url.click("https://other/x")) == "https://other/x"
    assert str(url.click("?page=2")) == "http://h/a/b?page=2"


def test_types_are_checked_and_equality_is_by_text() -> None:
    with pytest.raises(ValueError, match="fromBytes"):
        URLPath.fromString(b"http://h/")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fromString"):
        URLPath.fromBytes("http://h/")  # type: ignore[arg-type]
    assert URLPath.fromString("http://h/x") == URLPath.fromBytes(b"http://h/x")
    assert len({URLPath.fromString("http://h/x"), URLPath.fromString("http://h/x")}) == 1
    assert "é" not in str(URLPath.fromString("http://h/caf\xe9"))
