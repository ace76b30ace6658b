"""The file a URL path segment names in a served directory, if it may name one.

Shared by the resources that map URL segments to files they run
(torsion.web.script.ResourceScriptDirectory, torsion.web.twcgi.CGIDirectory).

Tests: tests/web/test_script.py, tests/web/test_twcgi.py (requests that try to leave
the directory).
"""

from __future__ import annotations

import os

__all__ = ["childFileName"]


def childFileName(segment: bytes) -> str | None:
    """`segment` as a file name inside a directory, or None if it must not be served.

    A segment holding "/" (a decoded %2F) or NUL, and one starting with a dot (hidden
    files, "." and ".."), could leave the directory or reveal what is meant to be
    private, so none of them names a file.
    """
    if not segment or b"/" in segment or b"\x00" in segment or segment.startswith(b"."):
        return None
    return os.fsdecode(segment)
