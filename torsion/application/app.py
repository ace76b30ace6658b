"""The parts of torsiond that do not depend on the platform: options, reactors, loading, logs.

``ServerOptions`` parses torsiond's command line (its plugins are sub-commands);
``installReactor(name)`` installs the reactor ``--reactor`` names; ``getApplication``
loads the application from a .tac, .tap, .tas or .tax file, or makes one from a plugin;
``AppLogger`` starts the log (file, stdout or syslog) in the seed's format, with what
the application prints going to the log too; ``startApplication`` wires the
application's start, stop and save to the reactor's life cycle. torsion.scripts.torsiond
puts them together with the POSIX parts (daemon, pid file, privileges).

Every problem the user can cause is a ``StartupError`` (or a ``usage.UsageError``)
with a one-line message that names the file, port or option and what to do.
Tests: tests/application/test_app.py and, end to end, tests/scripts/test_torsiond.py.
"""

from __future__ import annotations

import importlib
import os
import selectors
import signal
import sys
from collections.abc import Callable
from typing import IO, Any

from torsion.application import service
from torsion.logger import Logger, globalLogBeginner, globalLogPublisher, textFileLogObserver
from torsion.logger._legacy import LegacyLogObserverWrapper
from torsion.persisted import sob
from torsion.plugin import getPlugins
from torsion.python import log, usage
from torsion.python.util import gidFromString, uidFromString

__all__ = [
    "REACTORS",
    "AppLogger",
    "NoSuchReactor",
    "ServerOptions",
    "StartupError",
    "findServiceMaker",
    "getApplication",
    "gidCoerce",
    "globalReactor",
    "installReactor",
    "pluginCommands",
    "reactorProblem",
    "saveApplication",
    "startApplication",
    "uidCoerce",
]

_log = Logger(namespace="torsiond")


class StartupError(Exception):
    """The application cannot be started; the message is one line for the user."""


class NoSuchReactor(KeyError):
    """The reactor named is unknown, or cannot run here; the message says which and why."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such reactor"


# name: (module, what it is, the selectors class it needs or None)
REACTORS: dict[str, tuple[str, str, str | None]] = {
    "select": (
        "torsion.internet.selectreactor",
        "select(2): works anywhere, but slows down with many connections",
        "SelectSelector",
    ),
    "poll": ("torsion.internet.pollreactor", "poll(2), on POSIX systems", "PollSelector"),
    "epoll": (
        "torsion.internet.epollreactor",
        "epoll(7), on Linux (the default there)",
        "EpollSelector",
    ),
    "kqueue": ("torsion.internet.kqreactor", "kqueue(2), on the BSDs and macOS", "KqueueSelector"),
    "asyncio": (
        "torsion.internet.asyncioreactor",
        "on an asyncio event loop, shared with asyncio code",
        None,
    ),
    "uvloop": (
        "torsion.internet.asyncioreactor",
        "on a uvloop event loop (pip install uvloop)",
        None,
    ),
}


def globalReactor() -> Any:
    """Return the installed global reactor (installing the default one if none is)."""
    from torsion.internet import reactor

    return reactor


def reactorProblem(name: str) -> str | None:
    """Say why the reactor ``name`` cannot be used here, or return None if it can."""
    if name not in REACTORS:
        return f"unknown reactor {name!r}; the reactors are: {', '.join(REACTORS)}"
    selectorName = REACTORS[name][2]
    if selectorName is not None and not hasattr(selectors, selectorName):
        return f"the {name} reactor cannot run on this system (it has no {name})"
    if name == "uvloop":
        try:
            importlib.import_module("uvloop")
        except ImportError:
            return "the uvloop reactor needs the uvloop package: pip install uvloop"
    return None


def installReactor(name: str | None) -> Any:
    """Install the reactor called ``name`` (None: the platform's best) and return it.

    If a reactor is installed already (a plugin module imported it, say), that one is
    used when no name was given.

    Raises:
        NoSuchReactor: the name is unknown, the reactor cannot run here, or another
            reactor was installed already (the message says which, and from where).
    """
    from torsion.internet.error import ReactorAlreadyInstalledError

    problem = None if name is None else reactorProblem(name)
    if problem is not None:
        raise NoSuchReactor(problem)
    try:
        if name is None:
            from torsion.internet import default

            return default.install()
        module = importlib.import_module(REACTORS[name][0])
        if name == "uvloop":
            import uvloop

            return module.install(uvloop.new_event_loop())
        return module.install()
    except ReactorAlreadyInstalledError as e:
        if name is None:
            return globalReactor()
        raise NoSuchReactor(f"cannot use the {name} reactor: {e}") from None


def _octal(value: str) -> int:
    try:
        mask = int(value, 8)
    except ValueError:
        raise ValueError("a umask is an octal number such as 022") from None
    if not 0 <= mask <= 0o777:
        raise ValueError("a umask is between 000 and 777")
    return mask


def _size(value: str) -> int:
    size = int(value)
    if size < 0:
        raise ValueError("a size cannot be negative")
    return size


def _count(value: str) -> int:
    count = int(value)
    if count < 1:
        raise ValueError("keep at least 1 file (or leave the option out to keep all)")
    return count


def uidCoerce(value: str) -> int:
    """Coerce a ``--uid`` (a user name or number) to a user id; ValueError if none."""
    return uidFromString(value)


def gidCoerce(value: str) -> int:
    """Coerce a ``--gid`` (a group name or number) to a group id; ValueError if none."""
    return gidFromString(value)


_APPLICATION_FILES = (
    ("python", "Python (.tac)", "python"),
    ("file", "pickle (.tap)", "pickle"),
    ("source", "source (.tas)", "source"),
    ("xml", "XML (.tax)", "xml"),
)


class ServerOptions(usage.Options):
    """torsiond's command line: ``torsiond [options] [PLUGIN [plugin options]]``."""

    synopsis = "Usage: torsiond [options] [PLUGIN [plugin options]]"
    longdesc = (
        "torsiond runs a torsion application: the one a .tac file defines (-y), one saved "
        "in a .tap, .tas or .tax file (-f, -s, -x), or the service of a plugin (listed "
        "below; 'torsiond PLUGIN --help' shows its options). It daemonizes unless told "
        "not to (-n), writes its process id to torsiond.pid and its log to torsiond.log, "
        "and on SIGTERM or SIGINT stops the application and saves it as "
        "NAME-shutdown.tap (unless -o). Passphrases for encrypted files (-e) come from "
        "$TORSION_PASSPHRASE, else from the terminal."
    )

    optFlags = [
        [
            "nodaemon",
            "n",
            "Don't daemonize: stay in the foreground (logging to stdout "
            "unless --logfile or --syslog says otherwise).",
        ],
        ["no_save", "o", "Don't save the application as NAME-shutdown.tap when it stops."],
        [
            "encrypted",
            "e",
            "The application file is encrypted: its passphrase comes from "
            "$TORSION_PASSPHRASE, else from the terminal.",
        ],
        ["syslog", None, "Log to the system log instead of a file."],
    ]
    optParameters = [
        [
            "python",
            "y",
            None,
            "Run the application that this Python file (a .tac) defines as 'application'.",
        ],
        ["file", "f", None, "Run the application saved in this pickle file (a .tap)."],
        ["source", "s", None, "Run the application saved in this source file (a .tas)."],
        ["xml", "x", None, "Run the application saved in this XML file (a .tax)."],
        [
            "logfile",
            "l",
            None,
            "Log to this file, or to stdout if '-' (which needs "
            "--nodaemon). Default: torsiond.log, or stdout with --nodaemon.",
        ],
        [
            "rotate_length",
            None,
            1000000,
            "Rotate the log file when it reaches this many bytes (0: only on SIGUSR1).",
            _size,
        ],
        [
            "max_rotated_files",
            None,
            None,
            "Keep at most this many rotated log files (default: all).",
            _count,
        ],
        ["pidfile", None, "torsiond.pid", "Write the process id to this file; '' for none."],
        [
            "rundir",
            "d",
            ".",
            "Run the application in this directory (where it saves NAME-shutdown.tap).",
        ],
        [
            "umask",
            None,
            None,
            "The file-creation mask, in octal (default: 077 for a "
            "daemon; unchanged with --nodaemon).",
            _octal,
        ],
        [
            "uid",
            "u",
            None,
            "Switch to this user (name or number) once the ports are bound.",
            uidCoerce,
        ],
        [
            "gid",
            "g",
            None,
            "Switch to this group (name or number) once the ports are "
            "bound (default: the user's primary group).",
            gidCoerce,
        ],
        [
            "chroot",
            None,
            None,
            "Change the root directory to this one before starting the application (needs root).",
        ],
        [
            "reactor",
            "r",
            None,
            "The reactor: select, poll, epoll, kqueue, asyncio or uvloop "
            "(default: the platform's best). See --help-reactors.",
        ],
        ["prefix", None, "torsion", "The name syslog messages are marked with (--syslog)."],
    ]

    def opt_passphrase(self) -> None:
        """Same as --encrypted (the passphrase itself is never given on the command line)."""
        self["encrypted"] = 1

    def opt_help_reactors(self) -> None:
        """List the reactors and whether each can run here, then exit."""
        for name, (_module, description, _selector) in REACTORS.items():
            problem = reactorProblem(name)
            state = "" if problem is None else f" [not here: {problem}]"
            print(f"    {name:<9} {description}{state}")
        sys.exit(0)

    @property
    def subCommands(self) -> list[tuple[str, None, Callable[[], Any], str]]:
        """One sub-command per IServiceMaker plugin (found when asked for)."""
        return pluginCommands()

    def postOptions(self) -> None:
        """Check that the options fit together, and make the paths absolute."""
        given = [key for key, _, _ in _APPLICATION_FILES if self[key] is not None]
        if self.subCommand is not None:
            given.append(self.subCommand)
        if len(given) > 1:
            raise usage.UsageError(f"give one application, not several ({', '.join(given)})")
        if not given:
            plugins = ", ".join(str(c[0]) for c in self.subCommands) or "none installed"
            raise usage.UsageError(
                "no application given: use -y FILE.tac, -f FILE.tap, -s FILE.tas, "
                f"-x FILE.tax, or a plugin name (plugins: {plugins})"
            )
        if self["logfile"] == "-" and not self["nodaemon"]:
            raise usage.UsageError(
                "--logfile - (stdout) needs --nodaemon: a daemon's stdout is /dev/null"
            )
        if self["syslog"] and self["logfile"] is not None:
            raise usage.UsageError("give --syslog or --logfile, not both")
        if self["reactor"] is not None:
            problem = reactorProblem(self["reactor"])
            if problem is not None:
                raise usage.UsageError(problem)
        if self["uid"] is not None and self["gid"] is None:
            self["gid"] = _primaryGroup(self["uid"])
        for key in ("python", "file", "source", "xml", "chroot"):
            if self[key] is not None:
                self[key] = os.path.abspath(self[key])
        if self["logfile"] not in (None, "-"):
            self["logfile"] = os.path.abspath(self["logfile"])
        if self["pidfile"]:
            self["pidfile"] = os.path.abspath(self["pidfile"])
        if self["chroot"] is None:
            self["rundir"] = os.path.abspath(self["rundir"])

    def applicationFile(self) -> tuple[str, str] | None:
        """Return (path, style) of the application file given, or None for a plugin."""
        for key, _description, style in _APPLICATION_FILES:
            if self[key] is not None:
                return self[key], style
        return None


def _servicePlugins() -> list[Any]:
    return list(getPlugins(service.IServiceMaker))


def pluginCommands() -> list[tuple[str, None, Callable[[], Any], str]]:
    """The IServiceMaker plugins as ``usage.Options.subCommands`` (by name)."""
    commands = []
    for plugin in sorted(_servicePlugins(), key=lambda p: str(p.tapname)):
        commands.append((str(plugin.tapname), None, _optionsMaker(plugin), str(plugin.description)))
    return commands


def _optionsMaker(plugin: Any) -> Callable[[], Any]:
    def make() -> Any:
        return plugin.options()

    return make


def _primaryGroup(uid: int) -> int | None:
    try:
        import pwd
    except ImportError:  # pragma: no cover - Windows
        return None
    try:
        return pwd.getpwuid(uid).pw_gid
    except KeyError:
        return None


def findServiceMaker(name: str) -> Any:
    """Return the IServiceMaker plugin whose tapname is ``name``.

    Raises:
        StartupError: there is none.
    """
    for plugin in _servicePlugins():
        if plugin.tapname == name:
            return plugin
    raise StartupError(f"no plugin is called {name!r}")


def getApplication(config: ServerOptions, passphrase: str | None) -> Any:
    """Return the application ``config`` asks for: loaded from its file, or made by a plugin.

    The directory of the application file and the current directory are put at the
    front of ``sys.path`` first, so that the modules a .tac imports, and the classes a
    .tap names, are found next to it (the seed's ``import mioeco``).

    Raises:
        StartupError: the file is missing, unreadable, damaged, encrypted without a
            passphrase, or defines no application; or the plugin fails.
    """
    found = config.applicationFile()
    if found is None:
        assert config.subCommand is not None
        return _applicationFromPlugin(findServiceMaker(config.subCommand), config.subOptions)
    path, style = found
    for directory in (os.getcwd(), os.path.dirname(path)):
        if directory not in sys.path:
            sys.path.insert(0, directory)
    try:
        if style == "python":
            application = sob.loadValueFromFile(path, "application", passphrase)
        else:
            application = sob.load(path, style, passphrase)
    except sob.PassphraseRequired as e:
        raise StartupError(f"{e} (add -e)") from None
    except sob.FormatError as e:
        if passphrase is not None and "is not encrypted" in str(e):
            raise StartupError(f"{path} is not encrypted: drop -e") from None
        raise StartupError(str(e)) from None
    except sob.PersistenceError as e:
        if e.__cause__ is not None:
            _log.failure("Loading {path} failed", _failureOf(e.__cause__), path=path)
        raise StartupError(str(e)) from None
    if service.IService(application, None) is None:
        raise StartupError(
            f"{path} gives {application!r} as its application, which is not one: make it "
            "with service.Application(name)"
        )
    return application


def _failureOf(error: BaseException) -> Any:
    from torsion.python.failure import Failure

    return Failure(error, type(error), error.__traceback__)


def _applicationFromPlugin(plugin: Any, options: Any) -> Any:
    application = service.Application(str(plugin.tapname))
    try:
        made = plugin.makeService(options)
    except Exception as e:
        _log.failure("The {tapname} plugin failed to make its service", tapname=plugin.tapname)
        raise StartupError(
            f"the {plugin.tapname} plugin failed to make its service: "
            f"{type(e).__name__}: {' '.join(str(e).split())}"
        ) from None
    service.IService(made).setServiceParent(application)
    return application


def startApplication(
    application: Any,
    save: bool,
    passphrase: str | None = None,
    onStarted: Callable[[], None] | None = None,
    onFailed: Callable[[str], None] | None = None,
) -> None:
    """Have the reactor start ``application`` when it runs, stop it at shutdown, and save it.

    The application's ``startService`` runs once the reactor is running; its
    ``stopService`` runs before the reactor shuts down (which waits for the Deferred
    it returns); with ``save``, once shut down it is saved as NAME-shutdown.tap (in its
    own style; encrypted with ``passphrase`` if one is given). ``privilegedStartService``
    is the caller's to call first, before privileges are dropped.

    Args:
        onStarted: called once ``startService`` has returned.
        onFailed: called with a one-line message if ``startService`` raised; the
            reactor is then stopped, and the application is not saved.
    """
    reactor = globalReactor()
    root = service.IService(application)
    outcome: dict[str, bool] = {"started": False}

    def start() -> None:
        try:
            root.startService()
        except Exception as e:
            _log.failure("Starting the application failed")
            if onFailed is not None:
                onFailed(f"starting the application failed: {_oneLine(e)}")
            reactor.stop()
            return
        outcome["started"] = True
        if onStarted is not None:
            onStarted()

    def saveAtShutdown() -> None:
        if save and outcome["started"]:
            log.callWithContext({"system": "-"}, saveApplication, application, passphrase)

    reactor.callWhenRunning(start)
    reactor.addSystemEventTrigger("before", "shutdown", root.stopService)
    reactor.addSystemEventTrigger("after", "shutdown", saveAtShutdown)


def saveApplication(application: Any, passphrase: str | None = None) -> str | None:
    """Save ``application`` as NAME-shutdown.tap in the current directory; log if it fails."""
    persistable = sob.IPersistable(application, None)
    if persistable is None:
        _log.error("Not saving the application: it has no IPersistable component")
        return None
    try:
        return str(persistable.save("shutdown", passphrase=passphrase))
    except (sob.PersistenceError, OSError) as e:
        _log.error("Could not save the application: {error}", error=_oneLine(e))
        return None


def _oneLine(error: BaseException) -> str:
    text = " ".join(str(error).split())
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    # These say what went wrong in words; for others, the exception's name helps.
    if isinstance(error, (StartupError, sob.PersistenceError)):
        return text
    if type(error).__name__ == "CannotListenError":
        return text
    return f"{type(error).__name__}: {text}"


class AppLogger:
    """torsiond's log: where it goes, in the seed's line format, and its start and end lines.

    The destination is the system log with ``--syslog``; stdout with ``--logfile -``,
    or by default with ``--nodaemon``; else a ``LogFile`` (rotated by size, and on
    SIGUSR1). Starting it also makes what the application prints to stdout (and
    stderr) log events, each with the log context of the code that printed it.

    Args:
        options: the parsed ServerOptions.
        stdout: the stream that "-" means (the real stdout, taken before it is redirected).
    """

    def __init__(self, options: ServerOptions, stdout: IO[str] | None = None) -> None:
        self._options = options
        self._stdout = stdout if stdout is not None else sys.stdout
        self.logFile: Any = None
        self._observer: Any = None

    def describe(self) -> str:
        """Say where the log goes, for messages ("see the log in ...")."""
        if self._options["syslog"]:
            return "the system log"
        name = self._logFileName()
        return "stdout" if name is None else name

    def _logFileName(self) -> str | None:
        name = self._options["logfile"]
        if name == "-" or (name is None and self._options["nodaemon"]):
            return None
        return name or os.path.abspath("torsiond.log")

    def _makeObserver(self) -> Any:
        if self._options["syslog"]:
            from torsion.python.syslog import SyslogObserver

            try:
                return LegacyLogObserverWrapper(SyslogObserver(self._options["prefix"]).emit)
            except ImportError as e:
                raise StartupError(f"--syslog: {e}") from None
        name = self._logFileName()
        if name is None:
            return textFileLogObserver(self._stdout)
        from torsion.python.logfile import LogFile

        try:
            self.logFile = LogFile.fromFullPath(
                name,
                rotateLength=self._options["rotate_length"],
                maxRotatedFiles=self._options["max_rotated_files"],
            )
        except OSError as e:
            raise StartupError(f"cannot open the log file {name}: {e.strerror or e}") from None
        return textFileLogObserver(self.logFile)

    def start(self) -> None:
        """Open the log and begin logging to it (stdout and stderr included).

        Raises:
            StartupError: the log file cannot be opened, or there is no syslog.
        """
        self._observer = self._makeObserver()
        globalLogBeginner.beginLoggingTo([self._observer], redirectStandardIO=True)
        from torsion import __version__

        _log.info(
            "torsiond {version} ({python} {pyversion}) starting up.",
            version=__version__,
            python=sys.executable,
            pyversion=".".join(map(str, sys.version_info[:3])),
        )

    def logReactor(self) -> None:
        """Log the class of the installed reactor, and rotate the log file on SIGUSR1."""
        reactor = globalReactor()
        cls = type(reactor)
        _log.info("reactor class: {name}.", name=f"{cls.__module__}.{cls.__qualname__}")
        if self.logFile is not None and hasattr(signal, "SIGUSR1"):
            logFile = self.logFile

            def rotate(signum: int, frame: object) -> None:
                reactor.callFromThread(logFile.rotate)

            signal.signal(signal.SIGUSR1, rotate)

    def stop(self) -> None:
        """Log the last line, stop logging to the destination, and close the file."""
        _log.info("Server Shut Down.")
        if self._observer is not None:
            globalLogPublisher.removeObserver(self._observer)
            self._observer = None
        if self.logFile is not None:
            self.logFile.close()
            self.logFile = None
