"""The endpoint string language: "tcp:80:interface=192.168.3.1" to an endpoint object.

A description is a prefix, then arguments, separated by ``:``. An argument is a
value, or ``name=value`` (the first unescaped ``=`` splits it). A backslash makes
the next character plain, so ``\\:`` is a colon inside an argument (an IPv6 address,
a Windows path), ``\\=`` an equals sign, ``\\\\`` a backslash. The prefix picks the
parser; each parser takes named options, which may also be given in order without
their names (``tcp:80`` is ``tcp:port=80``).

Built-in servers: tcp, tcp6, ssl, unix, systemd, stdio. Built-in clients: tcp, tcp6,
ssl, unix, tls. Other prefixes come from plugins: objects providing
IStreamServerEndpointStringParser or IStreamClientEndpointStringParserWithReactor,
found through the ``torsion.plugins`` entry points (an entry point names such an
object, or a module holding some) or added in-process with ``registerParser``. A
built-in prefix cannot be replaced.

Every error is a ValueError that says what is wrong, quotes the description, and
says what would be right ("unknown option 'interfac' for tcp (did you mean
'interface'?) in 'tcp:80:interfac=127.0.0.1'; tcp takes: port, interface, backlog").

The ssl, tls and stdio parsers build on torsion.internet.ssl and the standard I/O
endpoint; they import them only when used, and say so if they are missing.
Tests: tests/application/test_strports.py, tests/application/test_strports_tls.py.
"""

from __future__ import annotations

import difflib
import importlib.metadata
import re
import socket
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from zope.interface import implementer

from torsion.internet import endpoints
from torsion.internet.interfaces import (
    IStreamClientEndpointStringParserWithReactor,
    IStreamServerEndpointStringParser,
)
from torsion.python.systemd import ListenFDs

__all__ = [
    "clientFromString",
    "quoteStringArgument",
    "registerParser",
    "serverFromString",
    "unregisterParser",
]

PLUGIN_GROUP = "torsion.plugins"


class _Bad(ValueError):
    """A bad part of a description: what is wrong, and what would be right.

    serverFromString/clientFromString turn it into a ValueError quoting the whole
    description.
    """

    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(f"{problem}; {hint}")
        self.problem = problem
        self.hint = hint


# -- the syntax --------------------------------------------------------------------------


def _parse(description: str) -> tuple[list[str], dict[str, str]]:
    """Split ``description`` into its positional arguments (the prefix first) and options.

    Raises:
        _Bad: a trailing backslash, an empty option name, or an option given twice.
    """
    parts: list[tuple[str, str | None]] = []
    current: list[str] = []
    name: str | None = None
    chars = iter(description)
    for char in chars:
        if char == "\\":
            escaped = next(chars, None)
            if escaped is None:
                raise _Bad(
                    "the description ends with a lone backslash",
                    "a backslash escapes the next character; write \\\\ for a backslash",
                )
            current.append(escaped)
        elif char == ":":
            parts.append(("".join(current), name))
            current, name = [], None
        elif char == "=" and name is None:
            name = "".join(current)
            if not name:
                raise _Bad(
                    "an option has no name before '='", "write NAME=VALUE, or escape it: \\="
                )
            current = []
        else:
            current.append(char)
    parts.append(("".join(current), name))
    args: list[str] = []
    kwargs: dict[str, str] = {}
    for value, optionName in parts:
        if optionName is None:
            args.append(value)
        elif optionName in kwargs:
            raise _Bad(f"option {optionName!r} is given twice", "give each option once")
        else:
            kwargs[optionName] = value
    return args, kwargs


def quoteStringArgument(argument: str) -> str:
    """Escape ``argument`` so that it is one plain argument of a description."""
    return argument.replace("\\", "\\\\").replace(":", "\\:").replace("=", "\\=")


# -- binding arguments to a parser's options ---------------------------------------------


class _Options:
    """The options of one built-in parser, and how to bind a description's arguments to them.

    Args:
        prefix: the prefix.
        usage: the description's shape, shown with errors ("tcp:PORT[:interface=...]").
        required: the options without a default, in positional order.
        optional: the options with a default, in positional order after the required.
        positionalAroundKeywords: positional arguments skip options given by name, as
            clients allow ("tcp:80:host=example.com" gives the port).
    """

    def __init__(
        self,
        prefix: str,
        usage: str,
        required: Sequence[str],
        optional: dict[str, str | None],
        positionalAroundKeywords: bool = False,
    ) -> None:
        self.prefix = prefix
        self.usage = usage
        self.required = tuple(required)
        self.optional = optional
        self.names = (*self.required, *optional)
        self.positionalAroundKeywords = positionalAroundKeywords

    def bind(self, args: Sequence[str], kwargs: dict[str, str]) -> dict[str, str | None]:
        """Return every option's value (defaults filled in).

        Raises:
            _Bad: an unknown option, one given twice, too many arguments, or a
                required one missing.
        """
        for name in kwargs:
            if name not in self.names:
                close = difflib.get_close_matches(name, self.names, 1)
                guess = f" (did you mean {close[0]!r}?)" if close else ""
                raise _Bad(
                    f"unknown option {name!r} for {self.prefix}{guess}",
                    f"{self.prefix} takes: {', '.join(self.names)}",
                )
        bound: dict[str, str | None] = dict(kwargs)
        free = list(self.names)
        if self.positionalAroundKeywords:
            free = [name for name in free if name not in kwargs]
        if len(args) > len(free):
            raise _Bad(
                f"unexpected argument {args[len(free)]!r} for {self.prefix}",
                f"usage: {self.usage}",
            )
        for name, value in zip(free, args, strict=False):
            if name in bound:
                raise _Bad(f"{name} is given twice for {self.prefix}", f"usage: {self.usage}")
            bound[name] = value
        for name in self.required:
            if name not in bound:
                raise _Bad(f"missing {name} for {self.prefix}", f"usage: {self.usage}")
        for name, default in self.optional.items():
            bound.setdefault(name, default)
        return bound


def _port(value: str | None, option: str = "port") -> int:
    try:
        number = int(value or "")
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise _Bad(f"bad {option} {value!r}", f"a {option} is a number from 0 to 65535")
    return number


def _count(value: str | None, option: str) -> int:
    try:
        number = int(value or "")
    except ValueError:
        number = -1
    if number < 0:
        raise _Bad(f"bad {option} {value!r}", f"{option} is a whole number, 0 or more")
    return number


def _seconds(value: str | None, option: str = "timeout") -> float:
    try:
        number = float(value or "")
    except ValueError:
        number = -1.0
    if not number >= 0:  # Also rejects nan.
        raise _Bad(f"bad {option} {value!r}", f"{option} is a number of seconds, 0 or more")
    return number


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(value: str | None, option: str) -> bool:
    text = (value or "").lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Bad(f"bad {option} {value!r}", f"{option} is 1 or 0 (true or false)")


def _mode(value: str | None) -> int:
    text = (value or "").lower().removeprefix("0o")
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o7777:
        raise _Bad(f"bad mode {value!r}", "mode is octal permission bits, such as 660 or 0600")
    return mode


def _bindAddress(value: str | None) -> tuple[str, int] | None:
    return None if value is None else (value, 0)


# -- files for TLS (read here, so their errors name the option) ----------------------------

_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL
)
_PEM_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def _readFile(path: str, option: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise _Bad(
            f"cannot read the {option} file {path!r} ({e.strerror or e})",
            f"give {option} the path of a readable PEM file",
        ) from None


def _certificatesIn(data: bytes, path: str, option: str) -> list[bytes]:
    found = _PEM_CERTIFICATE.findall(data)
    if not found:
        raise _Bad(
            f"the {option} file {path!r} holds no PEM certificate",
            "a certificate starts with -----BEGIN CERTIFICATE-----",
        )
    return found


def _privateKeyIn(data: bytes, path: str, option: str) -> bytes:
    if not _PEM_PRIVATE_KEY.search(data):
        raise _Bad(
            f"the {option} file {path!r} holds no PEM private key",
            "a key starts with -----BEGIN PRIVATE KEY----- (or RSA/EC PRIVATE KEY)",
        )
    return data


def _certificateDirectory(path: str, option: str) -> list[bytes]:
    """The PEM certificates of a file, or of every file in a directory."""
    where = Path(path)
    if where.is_dir():
        certificates: list[bytes] = []
        for child in sorted(where.iterdir()):
            if child.is_file():
                certificates.extend(_PEM_CERTIFICATE.findall(_readFile(str(child), option)))
        if not certificates:
            raise _Bad(
                f"the {option} directory {path!r} holds no PEM certificate",
                "put the CA certificates there as PEM files",
            )
        return certificates
    return _certificatesIn(_readFile(path, option), path, option)


def _sslModule(prefix: str) -> Any:
    try:
        from torsion.internet import ssl  # type: ignore[attr-defined, unused-ignore]
    except ImportError as e:
        raise _Bad(
            f"{prefix} endpoints need torsion.internet.ssl, which cannot be imported ({e})",
            "install a torsion with TLS support",
        ) from None
    return ssl


# Twisted's sslmethod names, as the TLS versions they allow: (oldest, newest), None for
# torsion.internet.ssl's default (TLS 1.2 and up). Before TLS 1.2 is insecure, and
# CertificateOptions only goes there when asked in so many words.
_SSL_METHODS: dict[str, tuple[str | None, str | None]] = {
    "SSLv23_METHOD": (None, None),
    "TLS_METHOD": (None, None),
    "TLS_SERVER_METHOD": (None, None),
    "TLS_CLIENT_METHOD": (None, None),
    "TLSv1_METHOD": ("TLSv1_0", "TLSv1_0"),
    "TLSv1_1_METHOD": ("TLSv1_1", "TLSv1_1"),
    "TLSv1_2_METHOD": ("TLSv1_2", "TLSv1_2"),
    "TLSv1_3_METHOD": ("TLSv1_3", "TLSv1_3"),
}


def _versionOptions(ssl: Any, sslmethod: str | None) -> dict[str, Any]:
    """The CertificateOptions arguments that allow only the versions of ``sslmethod``."""
    oldest, newest = _SSL_METHODS[sslmethod] if sslmethod is not None else (None, None)
    options: dict[str, Any] = {}
    if oldest is not None:
        minimum = ssl.TLSVersion[oldest]
        if minimum.value < ssl.TLSVersion.TLSv1_2.value:
            options["insecurelyLowerMinimumTo"] = minimum
        else:
            options["raiseMinimumTo"] = minimum
    if newest is not None:
        options["lowerMaximumSecurityTo"] = ssl.TLSVersion[newest]
    return options


def _loadFailed(ssl: Any) -> tuple[type[BaseException], ...]:
    """What torsion.internet.ssl raises for a file it cannot use."""
    return (getattr(ssl, "CertificateLoadError", ValueError), ValueError)


def _serverTLSOptions(
    privateKey: str,
    certKey: str | None,
    sslmethod: str | None,
    extraCertChain: str | None,
    dhParameters: str | None,
) -> Any:
    """The server CertificateOptions of an ``ssl:`` description (torsion.internet.ssl).

    The files are read and checked here, so that their errors name the option.
    """
    if sslmethod is not None and sslmethod not in _SSL_METHODS:
        raise _Bad(f"unknown sslmethod {sslmethod!r}", f"use one of {', '.join(_SSL_METHODS)}")
    certPath = privateKey if certKey is None else certKey
    keyPEM = _privateKeyIn(_readFile(privateKey, "privateKey"), privateKey, "privateKey")
    # The certificates after the first in the file are sent as its chain.
    certPEM = b"\n".join(_certificatesIn(_readFile(certPath, "certKey"), certPath, "certKey"))
    chain = None
    if extraCertChain is not None:
        chain = _certificatesIn(
            _readFile(extraCertChain, "extraCertChain"), extraCertChain, "extraCertChain"
        )
    if dhParameters is not None:
        _readFile(dhParameters, "dhParameters")
    ssl = _sslModule("ssl")
    unusable: tuple[type[BaseException], ...] = (*_loadFailed(ssl), OSError)
    try:
        options = ssl.CertificateOptions(
            privateKey=keyPEM,
            certificate=certPEM,
            extraCertChain=chain,
            **_versionOptions(ssl, sslmethod),
        )
        if dhParameters is not None:
            # The server context is made once and reused: parameters loaded into it stay.
            options.getContext().load_dh_params(dhParameters)
    except unusable as e:
        raise _Bad(
            f"the TLS settings cannot be used ({e})",
            "check privateKey, certKey, extraCertChain and dhParameters",
        ) from None
    return options


def _clientTLSOptions(
    prefix: str,
    host: str,
    trustRoots: str | None,
    certificate: str | None,
    privateKey: str | None,
) -> Any:
    """The client options of ``ssl:``/``tls:``: optionsForClientTLS (torsion.internet.ssl).

    They check the server's certificate against ``trustRoots`` (a PEM file or a
    directory of them; the platform's trust store by default) and its host name.
    """
    roots = None if trustRoots is None else _certificateDirectory(trustRoots, "trustRoots")
    clientPEM = None
    if certificate is not None or privateKey is not None:
        if certificate is None or privateKey is None:
            raise _Bad(
                "a client certificate needs both certificate (or certKey) and privateKey",
                "give both, or neither",
            )
        certPEM = _certificatesIn(_readFile(certificate, "certificate"), certificate, "certificate")
        keyPEM = _privateKeyIn(_readFile(privateKey, "privateKey"), privateKey, "privateKey")
        clientPEM = certPEM[0] + b"\n" + keyPEM
    ssl = _sslModule(prefix)
    kw: dict[str, Any] = {}
    try:
        if roots is not None:
            kw["trustRoot"] = [ssl.Certificate.loadPEM(pem) for pem in roots]
        if clientPEM is not None:
            kw["clientCertificate"] = ssl.PrivateCertificate.loadPEM(clientPEM)
        return ssl.optionsForClientTLS(host, **kw)
    except _loadFailed(ssl) as e:
        raise _Bad(
            f"the TLS settings cannot be used ({e})",
            "check trustRoots, certificate and privateKey",
        ) from None


# -- the built-in server parsers -----------------------------------------------------------


def _tcpServer(reactor: Any, o: dict[str, str | None], cls: type) -> Any:
    return cls(reactor, _port(o["port"]), _count(o["backlog"], "backlog"), o["interface"])


def _sslServer(reactor: Any, o: dict[str, str | None]) -> Any:
    port, backlog = _port(o["port"]), _count(o["backlog"], "backlog")
    options = _serverTLSOptions(
        o["privateKey"] or "server.pem",
        o["certKey"],
        o["sslmethod"],
        o["extraCertChain"],
        o["dhParameters"],
    )
    return endpoints.SSL4ServerEndpoint(reactor, port, options, backlog, o["interface"] or "")


def _unixServer(reactor: Any, o: dict[str, str | None]) -> Any:
    if not o["address"]:
        raise _Bad("the unix socket address is empty", "usage: unix:PATH[:mode=666]")
    return endpoints.UNIXServerEndpoint(
        reactor,
        o["address"],
        _count(o["backlog"], "backlog"),
        _mode(o["mode"]),
        _flag(o["lockfile"], "lockfile"),
    )


_FAMILIES = {"INET": socket.AF_INET, "INET6": socket.AF_INET6, "UNIX": socket.AF_UNIX}


def _systemdServer(reactor: Any, o: dict[str, str | None]) -> Any:
    domain = (o["domain"] or "").upper()
    if domain not in _FAMILIES:
        raise _Bad(f"unknown systemd domain {o['domain']!r}", "domain is INET, INET6 or UNIX")
    if (o["index"] is None) == (o["name"] is None):
        raise _Bad(
            "systemd needs one of index and name",
            "write systemd:domain=INET:index=0 (or name=NAME for FileDescriptorName=)",
        )
    passed = ListenFDs.fromEnvironment()
    descriptors = passed.inheritedDescriptors()
    if not descriptors:
        raise _Bad(
            "systemd passed no sockets to this process (LISTEN_FDS is unset, or LISTEN_PID "
            "is not this process)",
            "run it with systemd socket activation, or listen with tcp:PORT",
        )
    if o["name"] is not None:
        named = passed.inheritedNamedDescriptors()
        if o["name"] not in named:
            raise _Bad(
                f"systemd passed no socket named {o['name']!r}",
                f"the names passed are: {', '.join(named) or 'none (LISTEN_FDNAMES is unset)'}",
            )
        fileno = named[o["name"]]
    else:
        index = _count(o["index"], "index")
        if index >= len(descriptors):
            raise _Bad(
                f"systemd index {index} is out of range",
                f"{len(descriptors)} socket(s) were passed: index 0 to {len(descriptors) - 1}",
            )
        fileno = descriptors[index]
    return endpoints.AdoptedStreamServerEndpoint(reactor, fileno, _FAMILIES[domain])


def _stdioServer(reactor: Any, o: dict[str, str | None]) -> Any:
    standardIO = getattr(endpoints, "StandardIOEndpoint", None)
    if standardIO is None:
        raise _Bad(
            "stdio endpoints need torsion.internet.stdio, which this torsion does not have",
            "install a torsion with standard I/O support",
        )
    return standardIO(reactor)


_TCP_SERVER_USAGE = "{}:PORT[:interface=ADDRESS][:backlog=N]"

_SERVER_SPECS: dict[str, tuple[_Options, Callable[[Any, dict[str, str | None]], Any]]] = {
    "tcp": (
        _Options(
            "tcp", _TCP_SERVER_USAGE.format("tcp"), ["port"], {"interface": "", "backlog": "50"}
        ),
        lambda reactor, o: _tcpServer(reactor, o, endpoints.TCP4ServerEndpoint),
    ),
    "tcp6": (
        _Options(
            "tcp6", _TCP_SERVER_USAGE.format("tcp6"), ["port"], {"interface": "::", "backlog": "50"}
        ),
        lambda reactor, o: _tcpServer(reactor, o, endpoints.TCP6ServerEndpoint),
    ),
    "ssl": (
        _Options(
            "ssl",
            "ssl:PORT:privateKey=KEY.pem[:certKey=CERT.pem][:extraCertChain=CHAIN.pem]"
            "[:dhParameters=DH.pem][:sslmethod=METHOD][:interface=ADDRESS][:backlog=N]",
            ["port"],
            {
                "privateKey": "server.pem",
                "certKey": None,
                "sslmethod": None,
                "interface": "",
                "backlog": "50",
                "extraCertChain": None,
                "dhParameters": None,
            },
        ),
        _sslServer,
    ),
    "unix": (
        _Options(
            "unix",
            "unix:PATH[:mode=666][:lockfile=0|1][:backlog=N]",
            ["address"],
            {"mode": "666", "backlog": "50", "lockfile": "0"},
        ),
        _unixServer,
    ),
    "systemd": (
        _Options(
            "systemd",
            "systemd:domain=INET|INET6|UNIX:index=N (or :name=NAME)",
            ["domain"],
            {"index": None, "name": None},
        ),
        _systemdServer,
    ),
    "stdio": (_Options("stdio", "stdio", [], {}), _stdioServer),
}


# -- the built-in client parsers -----------------------------------------------------------


def _tcpClient(reactor: Any, o: dict[str, str | None], cls: type) -> Any:
    return cls(
        reactor,
        o["host"],
        _port(o["port"]),
        _seconds(o["timeout"]),
        _bindAddress(o["bindAddress"]),
    )


def _sslClient(reactor: Any, o: dict[str, str | None]) -> Any:
    host = o["host"] or ""
    port, timeout = _port(o["port"]), _seconds(o["timeout"])
    options = _clientTLSOptions("ssl", host, o["caCertsDir"], o["certKey"], o["privateKey"])
    return endpoints.SSL4ClientEndpoint(
        reactor, host, port, options, timeout, _bindAddress(o["bindAddress"])
    )


def _unixClient(reactor: Any, o: dict[str, str | None]) -> Any:
    if not o["path"]:
        raise _Bad("the unix socket path is empty", "usage: unix:PATH[:timeout=SECONDS]")
    return endpoints.UNIXClientEndpoint(
        reactor, o["path"], _seconds(o["timeout"]), _flag(o["lockfile"], "lockfile")
    )


def _tlsClient(reactor: Any, o: dict[str, str | None]) -> Any:
    host = o["host"] or ""
    if not host:
        raise _Bad("tls needs the server's host name", "usage: tls:HOST[:PORT]")
    port, timeout = _port(o["port"]), _seconds(o["timeout"])
    inner: Any
    if o["endpoint"] is not None:
        inner = clientFromString(reactor, o["endpoint"])
    else:
        inner = endpoints.HostnameEndpoint(
            reactor, host, port, timeout, _bindAddress(o["bindAddress"])
        )
    options = _clientTLSOptions("tls", host, o["trustRoots"], o["certificate"], o["privateKey"])
    try:
        return endpoints.wrapClientTLS(options, inner)
    except ImportError as e:
        raise _Bad(
            f"tls endpoints need torsion.protocols.tls, which cannot be imported ({e})",
            "install a torsion with TLS support",
        ) from None


_TCP_CLIENT_USAGE = "{}:HOST:PORT[:timeout=SECONDS][:bindAddress=ADDRESS]"
_TCP_CLIENT_OPTIONS = {"timeout": "30", "bindAddress": None}

_CLIENT_SPECS: dict[str, tuple[_Options, Callable[[Any, dict[str, str | None]], Any]]] = {
    "tcp": (
        _Options(
            "tcp", _TCP_CLIENT_USAGE.format("tcp"), ["host", "port"], _TCP_CLIENT_OPTIONS, True
        ),
        lambda reactor, o: _tcpClient(reactor, o, endpoints.TCP4ClientEndpoint),
    ),
    "tcp6": (
        _Options(
            "tcp6", _TCP_CLIENT_USAGE.format("tcp6"), ["host", "port"], _TCP_CLIENT_OPTIONS, True
        ),
        lambda reactor, o: _tcpClient(reactor, o, endpoints.TCP6ClientEndpoint),
    ),
    "ssl": (
        _Options(
            "ssl",
            "ssl:HOST:PORT[:caCertsDir=DIR][:certKey=CERT.pem:privateKey=KEY.pem]"
            "[:timeout=SECONDS][:bindAddress=ADDRESS]",
            ["host", "port"],
            {**_TCP_CLIENT_OPTIONS, "certKey": None, "privateKey": None, "caCertsDir": None},
            True,
        ),
        _sslClient,
    ),
    "unix": (
        _Options(
            "unix",
            "unix:PATH[:timeout=SECONDS][:lockfile=0|1]",
            ["path"],
            {"timeout": "30", "lockfile": "0"},
            True,
        ),
        _unixClient,
    ),
    "tls": (
        _Options(
            "tls",
            "tls:HOST[:PORT][:trustRoots=CA.pem|DIR][:certificate=CERT.pem:privateKey=KEY.pem]"
            "[:timeout=SECONDS][:bindAddress=ADDRESS][:endpoint=CLIENT-DESCRIPTION]",
            ["host"],
            {
                "port": "443",
                **_TCP_CLIENT_OPTIONS,
                "certificate": None,
                "privateKey": None,
                "trustRoots": None,
                "endpoint": None,
            },
            True,
        ),
        _tlsClient,
    ),
}


@implementer(IStreamServerEndpointStringParser)
class _BuiltinServerParser:
    """A built-in server prefix, as a parser object like any plugin's."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._options, self._build = _SERVER_SPECS[prefix]

    def parseStreamServer(self, reactor: Any, *args: str, **kwargs: str) -> Any:
        return self._build(reactor, self._options.bind(args, kwargs))


@implementer(IStreamClientEndpointStringParserWithReactor)
class _BuiltinClientParser:
    """A built-in client prefix, as a parser object like any plugin's."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._options, self._build = _CLIENT_SPECS[prefix]

    def parseStreamClient(self, reactor: Any, *args: str, **kwargs: str) -> Any:
        return self._build(reactor, self._options.bind(args, kwargs))


_BUILTIN_SERVERS = {prefix: _BuiltinServerParser(prefix) for prefix in _SERVER_SPECS}
_BUILTIN_CLIENTS = {prefix: _BuiltinClientParser(prefix) for prefix in _CLIENT_SPECS}


# -- plugins ---------------------------------------------------------------------------------

_registered: list[Any] = []


def registerParser(parser: Any) -> None:
    """Add a parser plugin for this process (see endpoints.registerParser)."""
    isServer = IStreamServerEndpointStringParser.providedBy(parser)
    isClient = IStreamClientEndpointStringParserWithReactor.providedBy(parser)
    if not (isServer or isClient):
        raise TypeError(
            f"{parser!r} provides neither IStreamServerEndpointStringParser nor "
            "IStreamClientEndpointStringParserWithReactor; declare one with @implementer"
        )
    prefix = str(parser.prefix).lower()
    if (isServer and prefix in _BUILTIN_SERVERS) or (isClient and prefix in _BUILTIN_CLIENTS):
        raise ValueError(f"the prefix {prefix!r} is built in; choose another prefix")
    for other in _registered:
        if str(other.prefix).lower() == prefix and (
            (isServer and IStreamServerEndpointStringParser.providedBy(other))
            or (isClient and IStreamClientEndpointStringParserWithReactor.providedBy(other))
        ):
            raise ValueError(f"a parser for the prefix {prefix!r} is registered already: {other!r}")
    _registered.append(parser)


def unregisterParser(parser: Any) -> None:
    """Remove a parser added with ``registerParser``."""
    if parser in _registered:
        _registered.remove(parser)


def _pluginParsers(interface: Any) -> tuple[list[Any], list[str]]:
    """Return the parsers providing ``interface``: registered ones, then entry points'.

    Also returns a note for each entry point that could not be loaded (these are
    skipped, so that one broken plugin does not break every description).
    """
    found = [parser for parser in _registered if interface.providedBy(parser)]
    problems: list[str] = []
    for entryPoint in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        try:
            loaded = entryPoint.load()
        except Exception as e:
            problems.append(
                f"the plugin {entryPoint.name!r} ({entryPoint.value}) failed to load: {e}"
            )
            continue
        if isinstance(loaded, types.ModuleType):
            candidates = list(vars(loaded).values())
        else:
            candidates = [loaded]
        found.extend(c for c in candidates if interface.providedBy(c))
    return found, problems


def _find(prefix: str, builtins: dict[str, Any], interface: Any, side: str) -> Any:
    wanted = prefix.lower()
    if wanted in builtins:
        return builtins[wanted]
    plugins, problems = _pluginParsers(interface)
    for parser in plugins:
        if str(parser.prefix).lower() == wanted:
            return parser
    known = list(builtins)
    known.extend(p for p in (str(parser.prefix).lower() for parser in plugins) if p not in known)
    close = difflib.get_close_matches(wanted, known, 1)
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    notes = "".join(f"; {problem}" for problem in problems)
    raise _Bad(
        f"unknown endpoint type {prefix!r}",
        f"known types: {', '.join(known)}{guess}{notes}",
    )


def _fromString(
    reactor: Any, description: str, builtins: dict[str, Any], interface: Any, side: str
) -> Any:
    if not isinstance(description, str):
        raise TypeError(f"an endpoint description is a str, not {type(description).__name__}")
    try:
        args, kwargs = _parse(description)
        prefix = args.pop(0)
        if not prefix:
            raise _Bad("the description has no endpoint type", "start it with one, as in tcp:8080")
        if not kwargs and not args and prefix.isdigit():
            raise _Bad(
                "the description has no endpoint type", f"write tcp:{prefix} for TCP port {prefix}"
            )
        parser = _find(prefix, builtins, interface, side)
        if interface is IStreamServerEndpointStringParser:
            return parser.parseStreamServer(reactor, *args, **kwargs)
        return parser.parseStreamClient(reactor, *args, **kwargs)
    except _Bad as bad:
        raise ValueError(f"{bad.problem} in {description!r}; {bad.hint}") from None


def serverFromString(reactor: Any, description: str) -> Any:
    """Return the server endpoint ``description`` describes (endpoints.serverFromString)."""
    return _fromString(
        reactor, description, _BUILTIN_SERVERS, IStreamServerEndpointStringParser, "server"
    )


def clientFromString(reactor: Any, description: str) -> Any:
    """Return the client endpoint ``description`` describes (endpoints.clientFromString)."""
    return _fromString(
        reactor,
        description,
        _BUILTIN_CLIENTS,
        IStreamClientEndpointStringParserWithReactor,
        "client",
    )
