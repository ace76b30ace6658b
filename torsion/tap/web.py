"""``torsiond web``: a web server for a directory, a resource script or a WSGI application.

    torsiond -n web --path /srv/www                  # static files (and .rpy scripts)
    torsiond -n web --resource-script ci.rpy         # the seed's example
    torsiond -n web --wsgi myproject.wsgi.application --max-threads 20
    torsiond -n web --listen tcp:8080 --listen ssl:8443:privateKey=key.pem:certKey=cert.pem
    torsion mktap web --resource-script ci.rpy && torsiond -n -f web.tap

Twisted's options, with Twisted's default of ``tcp:8080``: port 8080 on every
interface, since serving pages to others is what a web server is for (the echo and
portforward plugins default to this machine only; give
``--listen tcp:8080:interface=127.0.0.1`` for that here). ``--port`` is Twisted's
older name for ``--listen``, and a bare number means that TCP port. Each
``--listen`` adds an endpoint; one Site answers on all of them.

The root is the one of ``--path``, ``--resource-script``, ``--wsgi`` or ``--class``
given (a welcome page if none is); ``--vhost HOST=DIR`` serves other host names from
other directories, with that root answering the rest. The options for static files
(``--mime-type``, ``--ignore-ext``, ``--allow-ignore-ext``, ``--processor``) apply
to every directory served. The settings are checked when the command line is read,
so a typo is a usage error; the resources are made by makeService, and everything
made is picklable (``torsion mktap web``): a WSGI application is saved by its name
and imported again when the file is loaded.

``--auth TYPE:ARGUMENTS`` (torsion.cred.strcred) puts the whole site behind HTTP
authentication (torsion.web.guard): Digest (SHA-256, then MD5) and Basic where the
checkers can check Digest (passwords in the clear: ``memory:``, or a ``file:`` without
hashed entries), Basic alone otherwise (a file of hashes, as ``torsion passwd``
writes). ``--auth-realm`` names the realm the browser shows. Good logins with a
password file are remembered for two minutes (RememberingChecker), since HTTP
authentication sends the password with every request and a hash takes a quarter of a
second to check.

Tests: tests/web/test_webplugin.py, tests/web/guard/test_plugin.py.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from torsion.application import service, strports
from torsion.application.service import IService
from torsion.cred import strcred
from torsion.cred.credentials import IAnonymous, IUsernameHashedPassword, IUsernamePassword
from torsion.cred.portal import IRealm
from torsion.python import usage
from torsion.web import resource
from torsion.web._auth.basic import BasicCredentialFactory

__all__ = ["DEFAULT_AUTH_REALM", "DEFAULT_LISTEN", "Options", "SiteRealm", "makeService"]

DEFAULT_LISTEN = "tcp:8080"

_ROOTS = ("path", "resource-script", "wsgi", "class")


def _importable(name: str, what: str) -> Any:
    """The object a dotted name (``pkg.module.attr`` or ``pkg.module:attr``) names.

    The current directory is searched as well, so that ``--wsgi myapp.app`` finds
    myapp.py where torsiond is run, as a .tac's imports are.

    Raises:
        ValueError: the name cannot be imported; the message says why.
    """
    moduleName, colon, attribute = name.partition(":")
    if not colon:
        moduleName, _, attribute = name.rpartition(".")
    if not moduleName or not attribute:
        raise ValueError(
            f"{what} {name!r} is not a dotted name: give package.module.name "
            "(or package.module:name)"
        )
    here = os.getcwd()
    if here not in sys.path:
        sys.path.insert(0, here)
    try:
        module = importlib.import_module(moduleName)
    except ImportError as e:
        raise ValueError(f"{what} {name!r}: cannot import {moduleName}: {e}") from None
    except Exception as e:
        raise ValueError(
            f"{what} {name!r}: importing {moduleName} failed: {type(e).__name__}: {e}"
        ) from None
    found = module
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ValueError(f"{what} {name!r}: {moduleName} has no {attribute}") from None
    return found


def _webModule(name: str) -> Any:
    """torsion.web.NAME, imported when an option needs it."""
    return importlib.import_module(f"torsion.web.{name}")


class WelcomePage(resource.Resource):
    """What ``torsiond web`` serves when no root was given: how to give one."""

    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return (
            b"<!DOCTYPE html>\n<html><head><title>torsion web</title></head><body>\n"
            b"<h1>torsion web is running</h1>\n<p>No content was given to serve. Start it "
            b"with <code>--path DIRECTORY</code>, <code>--resource-script FILE.rpy</code>, "
            b"<code>--wsgi package.module.application</code> or <code>--class "
            b"package.module.Resource</code>.</p>\n</body></html>\n"
        )


class AddHeadersResource(resource.Resource):
    """Adds fixed headers (``--add-header``) to every response below the wrapped root."""

    def __init__(self, original: Any, headers: list[tuple[bytes, bytes]]) -> None:
        super().__init__()
        self.original = original
        self.headers = headers

    def _addHeaders(self, request: Any) -> None:
        for name, value in self.headers:
            request.responseHeaders.addRawHeader(name, value)

    def getChildWithDefault(self, path: bytes, request: Any) -> Any:
        self._addHeaders(request)
        if self.original.isLeaf:
            # The wrapped root answers for the whole path, this segment included.
            request.postpath.insert(0, request.prepath.pop())
            return self.original
        return self.original.getChildWithDefault(path, request)

    def render(self, request: Any) -> Any:
        self._addHeaders(request)
        return self.original.render(request)


class WSGIApplication(resource.Resource):
    """A WSGI application given by name, on a thread pool of its own (``--wsgi``).

    Only the name and the pool's size are saved when the application is pickled; the
    application is imported again, and a new pool made, when it is loaded. The pool
    starts with the first request and stops when the reactor shuts down.
    """

    isLeaf = True

    def __init__(self, name: str, maxThreads: int) -> None:
        super().__init__()
        self.name = name
        self.maxThreads = maxThreads
        self._setUp()

    def _setUp(self) -> None:
        from torsion.python.threadpool import ThreadPool

        self._application = _importable(self.name, "--wsgi")
        if not callable(self._application):
            raise ValueError(
                f"--wsgi {self.name!r} names {self._application!r}, which is not callable: "
                "name the WSGI application object"
            )
        self._pool = ThreadPool(0, self.maxThreads, "torsion.web.wsgi")
        self._wsgi: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "maxThreads": self.maxThreads, "children": {}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._setUp()

    def render(self, request: Any) -> Any:
        if self._wsgi is None:
            from torsion.web.wsgi import WSGIResource

            reactor = _globalReactor()
            self._pool.start()
            reactor.addSystemEventTrigger("after", "shutdown", self._pool.stop)
            self._wsgi = WSGIResource(reactor, self._pool, self._application)
        return self._wsgi.render(request)


def _globalReactor() -> Any:
    from torsion.internet import reactor

    return reactor


# -- auth (guard) --
_AUTH_INTERFACES = (IUsernamePassword, IUsernameHashedPassword, IAnonymous)
DEFAULT_AUTH_REALM = "torsion"


def _canDigest(checker: Any) -> bool:
    """Whether ``checker`` can check Digest: it holds the passwords in the clear."""
    from torsion.cred import checkers, hashing

    if isinstance(checker, checkers.InMemoryUsernamePasswordDatabaseDontUse):
        return True
    if isinstance(checker, checkers.FilePasswordDB) and checker.hash is None:
        try:
            return not any(hashing.isHashed(p) for _, p in checker._loadCredentials())
        except checkers.PasswordFileError:
            return False
    return False


@implementer(IRealm)
class SiteRealm:
    """The realm of ``--auth``: every user who logs in gets the whole site."""

    def __init__(self, root: Any) -> None:
        self.root = root

    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        if resource.IResource not in interfaces:
            raise NotImplementedError("the web plugin's realm only makes resources")
        return resource.IResource, self.root, _noLogout


def _noLogout() -> None:
    """Nothing to do when a request of the site ends."""


def _guarded(root: Any, options: Any) -> Any:
    """``root`` behind HTTP authentication with the --auth checkers, or ``root``."""
    if not options["credCheckers"]:
        return root
    from torsion.cred.portal import Portal
    from torsion.web.guard import DigestCredentialFactory, HTTPAuthSessionWrapper

    realm = options.get("auth-realm") or DEFAULT_AUTH_REALM
    interfaces = options["credInterfaces"]
    factories: list[Any] = []
    digesting = interfaces.get(IUsernameHashedPassword, [])
    if digesting and all(_canDigest(c) for c in digesting):
        factories += [
            DigestCredentialFactory(b"sha256", realm),
            DigestCredentialFactory(b"md5", realm),
        ]
    if IUsernamePassword in interfaces:
        factories.append(BasicCredentialFactory(realm))
        plain = [d for d in options["listen"] if d.partition(":")[0] in ("tcp", "tcp6")]
        if plain:
            from torsion.logger import Logger

            why = ""
            if len(factories) == 1:
                why = (
                    " (Digest is not offered: the passwords are stored as hashes, which "
                    "Digest cannot be checked against)"
                )
            Logger("torsion.tap.web").warn(
                "--auth: Basic authentication on {plain} sends passwords that anyone on "
                "the network path can read; serve it with --listen ssl:... instead{why}",
                plain=", ".join(plain),
                why=why,
            )
    portal = Portal(SiteRealm(root), [_remembering(c) for c in options["credCheckers"]])
    return HTTPAuthSessionWrapper(portal, factories)


def _remembering(checker: Any) -> Any:
    """Checkers of hashes, wrapped so that a good login is not re-checked per request."""
    from torsion.cred import checkers

    if isinstance(checker, checkers.FilePasswordDB | checkers.HashedPasswordChecker):
        from torsion.web._auth.remember import RememberingChecker

        return RememberingChecker(checker)
    return checker


class Options(usage.Options, strcred.AuthOptionMixin, strports.ListenOptionMixin):
    """The options of the web plugin."""

    defaultListen = DEFAULT_LISTEN
    bareNumberInterface = None  # Twisted's web: a bare port is every interface

    synopsis = (
        "[--listen DESCRIPTION ...] [--path DIR | --resource-script FILE | --wsgi NAME | "
        "--class NAME] [options]"
    )
    longdesc = (
        "Runs a web server. The root resource is a directory (--path, whose .rpy files "
        "are resource scripts), one resource script (--resource-script), a WSGI "
        "application (--wsgi) or a Resource class (--class); --vhost serves other host "
        "names from other directories. --listen takes an endpoint description and may "
        "be given several times (tcp:8080, ssl:8443:privateKey=key.pem, "
        "unix:/run/web.sock); the default is tcp:8080, every interface."
    )
    optFlags = [
        [
            "display-tracebacks",
            None,
            "Show the traceback of a failing page to the client "
            "(for development only: it tells strangers about your code).",
        ],
        [
            "allow-ignore-ext",
            None,
            "Let URLs leave out any file extension (/about serves about.html).",
        ],
    ]
    optParameters = [
        [
            "logfile",
            "l",
            None,
            "Write the access log (combined format) to this file instead of torsion's log.",
        ],
        [
            "max-threads",
            "t",
            100,
            "The most threads the WSGI application runs on at once.",
            usage.countCoerce("threads", "thread"),
        ],
        [
            "mime-type",
            "m",
            None,
            "The Content-Type of static files of unknown extension (default text/html).",
        ],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["vhosts"] = []
        self["ignore-ext"] = []
        self["processors"] = []
        self["headers"] = []
        for name in _ROOTS:
            self[name] = None

    def opt_port(self, description: str) -> None:
        """Twisted's older name for --listen; a bare number is that TCP port."""
        self.opt_listen(description)

    opt_p = opt_port

    def opt_path(self, path: str) -> None:
        """Serve this directory (or file) as the root."""
        self["path"] = path

    def opt_resource_script(self, path: str) -> None:
        """Serve the resource this script (.rpy) makes as the root."""
        self["resource-script"] = path

    def opt_wsgi(self, name: str) -> None:
        """Serve this WSGI application (package.module.name) as the root."""
        self["wsgi"] = name

    def opt_class(self, name: str) -> None:
        """Serve an instance of this Resource class (package.module.Class) as the root."""
        self["class"] = name

    def opt_vhost(self, spec: str) -> None:
        """HOST=DIR: serve host name HOST from directory DIR (a .rpy file works too);
        may be given several times. The root answers the other names."""
        host, equals, path = spec.partition("=")
        if not equals or not host or not path:
            raise usage.UsageError(
                f"--vhost {spec!r}: give HOST=DIRECTORY, such as example.com=/srv/example"
            )
        self["vhosts"].append((host, path))

    def opt_ignore_ext(self, ext: str) -> None:
        """Let URLs leave out this extension (.html); may be given several times."""
        if not ext.startswith("."):
            raise usage.UsageError(f"--ignore-ext {ext!r}: an extension starts with '.'")
        self["ignore-ext"].append(ext)

    def opt_processor(self, spec: str) -> None:
        """EXT=NAME: serve static files ending in EXT with the processor NAME
        (package.module.callable taking the path and the registry)."""
        ext, equals, name = spec.partition("=")
        if not equals or not ext.startswith(".") or not name:
            raise usage.UsageError(
                f"--processor {spec!r}: give .EXT=package.module.Processor, such as "
                ".rpy=torsion.web.script.ResourceScript"
            )
        self["processors"].append((ext, name))

    def opt_add_header(self, header: str) -> None:
        """'Name: value': add this header to every response; may be given several times."""
        from torsion.web.http_headers import Headers

        name, colon, value = header.partition(":")
        name, value = name.strip(), value.strip()
        try:
            if not colon or not name:
                raise ValueError("give it as 'Name: value'")
            Headers().addRawHeader(name, value)
        except ValueError as e:
            raise usage.UsageError(f"--add-header {header!r}: {e}") from None
        self["headers"].append((name.encode("ascii"), value.encode("iso-8859-1")))

    # -- auth (guard) --
    supportedInterfaces = _AUTH_INTERFACES

    def opt_auth_realm(self, realm: str) -> None:
        """The realm name of --auth, which browsers show when they ask for a password
        (default: torsion)."""
        try:
            BasicCredentialFactory(realm)
        except ValueError as e:
            raise usage.UsageError(f"--auth-realm {realm!r}: {e}") from None
        self["auth-realm"] = realm

    def postOptions(self) -> None:
        """Check that the options fit together and name things that exist."""

        self.checkListen()
        given = [f"--{name}" for name in _ROOTS if self[name] is not None]
        if len(given) > 1:
            raise usage.UsageError(f"give one root: {' or '.join(given)}, not several")
        if self["path"] is not None and not os.path.exists(self["path"]):
            raise usage.UsageError(f"--path {self['path']!r}: no such file or directory")
        script = self["resource-script"]
        if script is not None and not os.path.isfile(script):
            raise usage.UsageError(f"--resource-script {script!r}: no such file")
        for host, path in self["vhosts"]:
            if not os.path.exists(path):
                raise usage.UsageError(f"--vhost {host}={path}: no such file or directory")
        for option, name in (("wsgi", self["wsgi"]), ("class", self["class"])):
            if name is not None:
                try:
                    found = _importable(name, f"--{option}")
                except ValueError as e:
                    raise usage.UsageError(str(e)) from None
                if not callable(found):
                    raise usage.UsageError(f"--{option} {name!r} is not callable")
        static = (
            self["mime-type"] is not None
            or self["ignore-ext"]
            or self["allow-ignore-ext"]
            or self["processors"]
        )
        directories = self["path"] is not None or any(
            not path.endswith(".rpy") for _, path in self["vhosts"]
        )
        if static and not directories:
            raise usage.UsageError(
                "--mime-type, --ignore-ext, --allow-ignore-ext and --processor are for "
                "static files: give --path (or --vhost HOST=DIR) too"
            )
        for ext, name in self["processors"]:
            try:
                _importable(name, f"--processor {ext}")
            except ValueError as e:
                raise usage.UsageError(str(e)) from None
        needed = ["static"] if directories else []
        if self["resource-script"] is not None or directories:
            needed.append("script")
        if self["vhosts"]:
            needed.append("vhost")
        for module in needed:
            try:
                _webModule(module)
            except ImportError as e:
                raise usage.UsageError(
                    f"torsion.web.{module} cannot be imported, and these options need it: {e}"
                ) from None


def _fileResource(path: str, options: Any) -> Any:
    """A static.File for `path` with the options for static files, or a script's wrapper."""
    script = _webModule("script")
    if path.endswith(".rpy") and os.path.isfile(path):
        return script.ResourceScriptWrapper(os.path.abspath(path))
    static = _webModule("static")
    made = static.File(os.path.abspath(path))
    processors: dict[str, Callable[..., Any]] = {".rpy": script.ResourceScript}
    epy = getattr(script, "PythonScript", None)
    if epy is not None:
        processors[".epy"] = epy
    for ext, name in options["processors"]:
        processors[ext] = _importable(name, f"--processor {ext}")
    made.processors = processors
    if options["mime-type"] is not None:
        made.defaultType = options["mime-type"]
    for ext in options["ignore-ext"]:
        made.ignoreExt(ext)
    if options["allow-ignore-ext"]:
        made.ignoreExt("*")
    return made


def _root(options: Any) -> Any:
    if options["path"] is not None:
        return _fileResource(options["path"], options)
    if options["resource-script"] is not None:
        script = _webModule("script")
        return script.ResourceScriptWrapper(os.path.abspath(options["resource-script"]))
    if options["wsgi"] is not None:
        return WSGIApplication(options["wsgi"], int(options["max-threads"]))
    if options["class"] is not None:
        return _importable(options["class"], "--class")()
    return None


def makeService(options: Any) -> IService:
    """Return a MultiService with one listening service per --listen, sharing one Site."""
    from torsion.web import server

    root = _root(options)
    if options["vhosts"]:
        vhost = _webModule("vhost")
        hosts = vhost.NameVirtualHost()
        hosts.default = root
        for host, path in options["vhosts"]:
            hosts.addHost(host, _fileResource(path, options))
        root = hosts
    elif root is None:
        root = WelcomePage()
    root = _guarded(root, options)
    if options["headers"]:
        root = AddHeadersResource(root, list(options["headers"]))
    site = server.Site(root, logPath=options["logfile"])
    site.displayTracebacks = bool(options["display-tracebacks"])
    made = service.MultiService()
    for description in options["listen"]:
        listening = strports.service(description, site)
        # -- HTTP/2 --
        # TLS endpoints offer "h2" then "http/1.1" by ALPN when h2 is installed.
        from torsion.web._http2 import offerHTTP2

        offerHTTP2(getattr(listening.endpoint, "_contextFactory", None))
        listening.setServiceParent(made)
    return made
