"""Resource scripts: Python files on disk that a site runs to get its resources.

A resource script (by convention a `.rpy` file) is Python source that assigns a
resource to the global name `resource`; the site serves that resource at the script's
URL:

    from torsion.web import resource

    class Hello(resource.Resource):
        isLeaf = True
        def render_GET(self, request):
            return b"hello"

    resource = Hello()

`ResourceScript(path, registry)` runs the file and returns its resource. The script's
globals are those Twisted gives its scripts: `__file__` (the script's path),
`registry` (shared by every script of a site, to keep state in), `resource`, and
`cache()` / `recache()`. torsion keeps the resource a script made in the registry and
runs the script again only once the file changes (its modification time, size or
inode), so editing a script takes effect on the next request with no restart, and an
unchanged script costs one stat() per request. (Twisted runs a script on every request
unless it calls `cache()`; scripts written for that still work: `cache()` is accepted.)

A script that raises, or ends without assigning `resource`, answers 500 and its
error is logged with the traceback; the page shows the traceback only when the site's
`displayTracebacks` is on. The server goes on.

`ResourceScriptWrapper` serves one script as a resource (a site's root, say);
`ResourceScriptDirectory` serves a directory in which every file is a resource script;
`PythonScript` (`.epy`) runs its file on every request with `request` in its globals,
to write the page itself. A torsion.web.static.File serves the scripts in a directory
tree when given them as processors:

    root = static.File("/srv/www")
    root.processors = {".rpy": script.ResourceScript, ".epy": script.PythonScript}

Tests: tests/web/test_script.py.
"""

from __future__ import annotations

import os
from typing import Any

from torsion.python.failure import Failure
from torsion.web import resource
from torsion.web._fsname import childFileName
from torsion.web.server import NOT_DONE_YET
from torsion.web.static import Registry

__all__ = [
    "AlreadyCached",
    "CacheScanner",
    "PythonScript",
    "ResourceScript",
    "ResourceScriptDirectory",
    "ResourceScriptWrapper",
]

_MAX_SCRIPT_BYTES = 16 * 1024 * 1024


class AlreadyCached(Exception):
    """A script's resource is in the registry already (kept for Twisted's scripts)."""


class CacheScanner:
    """What a script's `cache()` and `recache()` globals call.

    Every script's resource is kept until the file changes, whether or not it asks;
    these record that it asked, for scripts written for Twisted, where asking is what
    turns caching on.
    """

    def __init__(self, path: str, registry: Any) -> None:
        self.path = path
        self.registry = registry
        self.doCache = False

    def cache(self) -> None:
        self.doCache = True

    def recache(self) -> None:
        self.doCache = True


class _CachedScript:
    """A script's resource and the stat() of the file that made it."""

    __slots__ = ("resource", "stamp")

    def __init__(self, stamp: tuple[int, ...], rsrc: Any) -> None:
        self.stamp = stamp
        self.resource = rsrc


def _stamp(path: str) -> tuple[int, ...]:
    info = os.stat(path)
    return (info.st_mtime_ns, info.st_size, info.st_ino, info.st_dev)


def _compile(path: str) -> Any:
    """The code of the script at `path`; compile errors name the file and line."""
    with open(path, "rb") as script:
        source = script.read(_MAX_SCRIPT_BYTES + 1)
    if len(source) > _MAX_SCRIPT_BYTES:
        raise ValueError(
            f"the script {path} is over {_MAX_SCRIPT_BYTES} bytes; a script that large "
            "belongs in a module the script imports"
        )
    return compile(source, path, "exec", dont_inherit=True)


def _run(code: Any, namespace: dict[str, Any], path: str) -> None:
    try:
        exec(code, namespace)
    except SystemExit as exiting:
        # A script must not stop the server; this is its error, like any other.
        raise RuntimeError(f"the script {path} called sys.exit({exiting.code!r})") from None


def _isResource(candidate: object) -> bool:
    return resource.IResource.providedBy(candidate) or (
        hasattr(candidate, "render") and hasattr(candidate, "getChildWithDefault")
    )


def ResourceScript(path: str | bytes, registry: Any) -> Any:
    """The resource that the script at `path` assigns to its global `resource`.

    The resource is kept in `registry` (a torsion.web.static.Registry, or anything
    with its getCachedPath and cachePath) and returned again until the file changes;
    with `registry` None the script runs on every call. A file that does not exist
    gives a 404 resource (it may have been removed since its directory was listed).

    Raises:
        Exception: whatever the script raises (its SyntaxError, say), and ValueError
            or TypeError if it assigns no resource or something that is not one; a
            Site answers those with a 500 page and logs them.
    """
    path = os.fsdecode(path)
    try:
        stamp = _stamp(path)
    except FileNotFoundError:
        return resource.NoResource("No such resource script.")
    if registry is not None:
        cached = registry.getCachedPath(path)
        if isinstance(cached, _CachedScript) and cached.stamp == stamp:
            return cached.resource
    code = _compile(path)
    scanner = CacheScanner(path, registry)
    missing = object()
    namespace: dict[str, Any] = {
        "__file__": path,
        "__name__": "__torsion_resource_script__",
        "resource": missing,
        "registry": registry,
        "cache": scanner.cache,
        "recache": scanner.recache,
    }
    _run(code, namespace, path)
    made = namespace["resource"]
    if made is missing:
        raise ValueError(
            f"the resource script {path} did not assign a resource to the global name "
            "'resource'; end it with, for example, `resource = MyResource()`"
        )
    if not _isResource(made):
        raise TypeError(
            f"the resource script {path} assigned {made!r} to 'resource', which is not a "
            "resource (an object providing torsion.web.resource.IResource)"
        )
    if registry is not None:
        registry.cachePath(path, _CachedScript(stamp, made))
    return made


class ResourceScriptWrapper(resource.Resource):
    """One resource script served as a resource: it answers as the script's resource does.

    The script is looked up on every request, so an edit of the file takes effect on
    the next request (see ResourceScript for when it runs again).
    """

    def __init__(self, path: str | bytes, registry: Any = None) -> None:
        super().__init__()
        self.path = os.fsdecode(path)
        self.registry = registry if registry is not None else Registry()

    def render(self, request: Any) -> Any:
        return ResourceScript(self.path, self.registry).render(request)

    def getChildWithDefault(self, path: bytes, request: Any) -> Any:
        made = ResourceScript(self.path, self.registry)
        if made.isLeaf:
            # The script's resource answers for the whole path, this segment included.
            request.postpath.insert(0, request.prepath.pop())
            return made
        return made.getChildWithDefault(path, request)


class ResourceScriptDirectory(resource.Resource):
    """A directory in which every file is a resource script and subdirectories are more.

    /dir/app/x serves what the script <pathname>/app assigns, asked for its child x.
    Names starting with a dot (hidden files, "..") and names holding "/" are not
    served, so a request cannot reach outside the directory.
    """

    def __init__(self, pathname: str | bytes, registry: Any = None) -> None:
        super().__init__()
        self.path = os.fsdecode(pathname)
        self.registry = registry if registry is not None else Registry()

    def getChild(self, path: bytes, request: Any) -> Any:
        if path == b"":
            return self
        name = childFileName(path)
        if name is None:
            return resource.NoResource()
        target = os.path.join(self.path, name)
        if os.path.isdir(target):
            return ResourceScriptDirectory(target, self.registry)
        if os.path.exists(target):
            return ResourceScript(target, self.registry)
        return resource.NoResource()

    def render(self, request: Any) -> bytes:
        page = resource.NoResource("A directory of resource scripts has no listing.")
        return page.render(request)


class PythonScript(resource.Resource):
    """A Python file (by convention `.epy`) run on every request to write the page.

    Its globals are `request` (write the body with request.write), `__file__` and
    `registry`; the request is finished once the file has run. An exception gives
    the 500 page, with the traceback only if the site's displayTracebacks is on, and
    is logged. Output printed to stdout goes where the server's stdout goes, not to
    the page.
    """

    isLeaf = True

    def __init__(self, filename: str | bytes, registry: Any) -> None:
        super().__init__()
        self.filename = os.fsdecode(filename)
        self.registry = registry

    def render(self, request: Any) -> Any:
        try:
            code = _compile(self.filename)
        except FileNotFoundError:
            return resource.NoResource("File not found.").render(request)
        except Exception:
            request.processingFailed(Failure())
            return NOT_DONE_YET
        namespace: dict[str, Any] = {
            "__file__": self.filename,
            "__name__": "__torsion_python_script__",
            "request": request,
            "registry": self.registry,
        }
        try:
            _run(code, namespace, self.filename)
        except Exception:
            request.processingFailed(Failure())
            return NOT_DONE_YET
        if not request.finished and not getattr(request, "_disconnected", False):
            request.finish()
        return NOT_DONE_YET
