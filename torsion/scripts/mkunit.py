"""``torsion mkunit``: systemd unit files that run an application with torsiond.

The seed's tao2deb and tao2rpm packaged an application for a distribution; today a
service is a systemd unit, which any package (or an administrator) installs::

    torsion mkunit --tac /srv/echo/echo.tac --name echo --user echo
    torsion mkunit --tap /srv/echo/echo.tap --name echo --socket tcp:7
    torsion mkunit --name echo --socket tcp:7 echo --listen systemd:domain=INET:index=0

write ``echo.service`` (and, with ``--socket``, ``echo.socket``). The service runs
torsiond in the foreground (``-n``: systemd does the daemonizing, the pid tracking
and the restarts), logging to stdout for the journal, with the file's absolute
path. With ``--socket``, systemd binds the socket itself (so a low port needs no
root in the service) and starts the service on the first connection; the
application then listens on ``systemd:domain=INET:index=0`` (INET6 for tcp6, UNIX for
unix), the description that adopts the socket systemd passes. docs/deploying.md
explains packaging them.
Tests: tests/scripts/test_mkunit.py.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from torsion.persisted import sob
from torsion.python import usage

__all__ = ["MkunitOptions", "serviceUnit", "socketUnit", "writeUnits"]

_NAME = re.compile(r"^[A-Za-z0-9:_.\\@-]+$")
_PLAIN = re.compile(r"^[A-Za-z0-9_./:=@+,-]+$")
_FLAGS = {"python": "--python", "pickle": "--file", "source": "--source", "xml": "--xml"}


class MkunitOptions(usage.Options):
    """The options of ``torsion mkunit``; a plugin and its options may follow them."""

    synopsis = (
        "Usage: torsion mkunit --name NAME (--tac FILE | --tap FILE | PLUGIN [plugin "
        "options]) [options]"
    )
    longdesc = (
        "Writes NAME.service, a systemd unit that runs the application with torsiond in "
        "the foreground, and with --socket also NAME.socket for socket activation (the "
        "application must then listen on systemd:domain=INET:index=0, or INET6, or UNIX)."
    )
    optFlags = [
        [
            "save",
            None,
            "Let torsiond save NAME-shutdown.tap in the working directory when "
            "the service stops (off by default in a unit).",
        ],
    ]
    optParameters = [
        ["name", None, None, "The unit name: NAME.service and NAME.socket."],
        ["tac", None, None, "The .tac file to run (torsiond -y)."],
        ["tap", None, None, "The saved application to run: .tap, .tas or .tax, encrypted or not."],
        ["user", None, None, "The user the service runs as (User=)."],
        ["group", None, None, "The group the service runs as (Group=)."],
        [
            "socket",
            None,
            None,
            "Also write NAME.socket, listening where this says: "
            "tcp:PORT[:interface=ADDRESS], tcp6:PORT[:interface=ADDRESS] or unix:PATH.",
        ],
        [
            "torsiond",
            None,
            None,
            "The torsiond program the unit runs (default: the one "
            "installed next to this Python, such as /opt/NAME/venv/bin/torsiond).",
        ],
        [
            "workdir",
            None,
            None,
            "The working directory (default: the file's directory; the current one for a plugin).",
        ],
        [
            "environment_file",
            None,
            None,
            "A file of variables for the service "
            "(EnvironmentFile=), such as TORSION_PASSPHRASE=... for an encrypted file.",
        ],
        ["description", None, None, "The unit's Description=."],
        ["directory", "d", ".", "Where to write the unit files."],
    ]

    def parseArgs(self, *plugin: str) -> None:
        """Take a plugin name and its options: what torsiond runs instead of a file."""
        self["plugin"] = list(plugin)

    def postOptions(self) -> None:
        """Check the options and make the paths absolute."""
        name = self["name"]
        if not name:
            raise usage.UsageError("give the unit a name with --name")
        if not _NAME.match(name):
            raise usage.UsageError(
                f"--name {name!r}: a unit name has only letters, digits and :_.\\@-"
            )
        given = [k for k in ("tac", "tap") if self[k]] + (["PLUGIN"] if self["plugin"] else [])
        if len(given) != 1:
            raise usage.UsageError(
                "give what the service runs: one of --tac FILE, --tap FILE, or a plugin "
                "name and its options"
            )
        for key in ("tac", "tap", "workdir", "environment_file", "torsiond"):
            if self[key]:
                self[key] = os.path.abspath(self[key])
        if self["tap"]:
            try:
                style = sob.guessType(self["tap"])
            except ValueError as e:
                raise usage.UsageError(str(e)) from None
            if style == "python":
                raise usage.UsageError(f"{self['tap']} is a Python file: give it with --tac")
            if os.path.splitext(self["tap"])[1].startswith(".e") and not self["environment_file"]:
                raise usage.UsageError(
                    f"{self['tap']} is encrypted, and the service needs its passphrase: "
                    "give --environment-file FILE, a file readable by root only that sets "
                    "TORSION_PASSPHRASE=..."
                )
        if self["socket"]:
            self["listen"] = listenStream(self["socket"])


def listenStream(description: str) -> tuple[str, str, dict[str, str]]:
    """Turn ``tcp:80``-style text into (ListenStream= value, systemd domain, extra lines).

    Raises:
        usage.UsageError: the description is not tcp, tcp6 or unix, or is malformed.
    """
    from torsion.internet._endpointstrings import _parse

    try:
        args, kwargs = _parse(description)
    except ValueError as e:
        raise usage.UsageError(f"--socket {description!r}: {e}") from None
    kind = args[0].lower() if args else ""
    extra: dict[str, str] = {}
    if "backlog" in kwargs:
        extra["Backlog"] = kwargs.pop("backlog")
    if kind in ("tcp", "tcp6") and len(args) == 2 and args[1].isdigit():
        if not 0 < int(args[1]) < 65536:
            raise usage.UsageError(f"--socket {description!r}: a port is from 1 to 65535")
        interface = kwargs.pop("interface", None)
        if kwargs:
            raise usage.UsageError(f"--socket {description!r}: unknown {', '.join(kwargs)}")
        if kind == "tcp":
            return f"{interface or '0.0.0.0'}:{args[1]}", "INET", extra
        extra["BindIPv6Only"] = "ipv6-only"
        return f"[{interface or '::'}]:{args[1]}", "INET6", extra
    if kind == "unix" and len(args) == 2 and args[1].startswith("/"):
        if "mode" in kwargs:
            extra["SocketMode"] = kwargs.pop("mode").rjust(4, "0")
        if kwargs:
            raise usage.UsageError(f"--socket {description!r}: unknown {', '.join(kwargs)}")
        return args[1], "UNIX", extra
    raise usage.UsageError(
        f"--socket {description!r}: give tcp:PORT[:interface=ADDRESS], "
        "tcp6:PORT[:interface=ADDRESS] or unix:/ABSOLUTE/PATH"
    )


def _quote(argument: str) -> str:
    """Write one ExecStart= argument so that systemd reads it back unchanged."""
    argument = argument.replace("%", "%%").replace("$", "$$")
    if argument and _PLAIN.match(argument):
        return argument
    escaped = argument.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _torsiondCommand(options: MkunitOptions) -> list[str]:
    if options["torsiond"]:
        return [options["torsiond"]]
    beside = os.path.join(os.path.dirname(os.path.abspath(sys.executable)), "torsiond")
    if os.access(beside, os.X_OK):
        return [beside]
    return [os.path.abspath(sys.executable), "-m", "torsion.scripts.torsiond"]


def execStart(options: MkunitOptions) -> list[str]:
    """The command line the service runs (before quoting)."""
    command = [*_torsiondCommand(options), "--nodaemon", "--pidfile=", "--logfile=-"]
    if not options["save"]:
        command.append("--no_save")
    if options["tac"]:
        command += ["--python", options["tac"]]
    elif options["tap"]:
        path = options["tap"]
        if os.path.splitext(path)[1].startswith(".e"):
            command.append("--encrypted")
        command += [_FLAGS[sob.guessType(path)], path]
    else:
        command += options["plugin"]
    return command


def serviceUnit(options: MkunitOptions) -> str:
    """Return the text of NAME.service."""
    name = options["name"]
    what = options["tac"] or options["tap"] or f"the {options['plugin'][0]} plugin"
    workdir = options["workdir"] or (
        os.path.dirname(options["tac"] or options["tap"]) if not options["plugin"] else os.getcwd()
    )
    description = options["description"] or f"{name}: a torsion application ({what})"
    unit = ["[Unit]", f"Description={description}"]
    if options["socket"]:
        unit += [f"Requires={name}.socket", f"After={name}.socket network.target"]
    else:
        unit += ["After=network.target"]
    unit += ["", "[Service]", "Type=simple"]
    unit.append("ExecStart=" + " ".join(_quote(a) for a in execStart(options)))
    unit.append(f"WorkingDirectory={workdir}")
    if options["user"]:
        unit.append(f"User={options['user']}")
    if options["group"]:
        unit.append(f"Group={options['group']}")
    if options["environment_file"]:
        unit.append(f"EnvironmentFile={options['environment_file']}")
    unit += ["Restart=on-failure", "RestartSec=2"]
    if not options["socket"]:
        unit += ["", "[Install]", "WantedBy=multi-user.target"]
    header = f"# Written by torsion mkunit: runs {what} with torsiond.\n"
    return header + "\n".join(unit) + "\n"


def socketUnit(options: MkunitOptions) -> str:
    """Return the text of NAME.socket (``--socket`` only)."""
    name = options["name"]
    listen, domain, extra = options["listen"]
    lines = [
        f"# Written by torsion mkunit: the socket of {name}.service; the application",
        f"# listens on it with the description systemd:domain={domain}:index=0.",
        "[Unit]",
        f"Description=The socket of {name}",
        "",
        "[Socket]",
        f"ListenStream={listen}",
    ]
    lines += [f"{key}={value}" for key, value in extra.items()]
    lines += ["", "[Install]", "WantedBy=sockets.target"]
    return "\n".join(lines) + "\n"


def writeUnits(options: MkunitOptions) -> list[str]:
    """Write the unit files; return their paths.

    Raises:
        OSError: a file cannot be written.
    """
    written = []
    units: list[tuple[str, str]] = [(f"{options['name']}.service", serviceUnit(options))]
    if options["socket"]:
        units.append((f"{options['name']}.socket", socketUnit(options)))
    for filename, text in units:
        path = os.path.join(options["directory"], filename)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        written.append(path)
    return written


def activationWarning(options: MkunitOptions) -> str | None:
    """Say if the application seems not to listen on the socket systemd passes it."""
    if not options["socket"]:
        return None
    domain = options["listen"][1]
    wanted = f"systemd:domain={domain}"
    if options["plugin"]:
        text = " ".join(options["plugin"])
    elif options["tac"]:
        try:
            with open(options["tac"], encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            return None
    else:
        return None
    if "systemd:" in text:
        return None
    return (
        f"the service must listen on the socket systemd passes it ({wanted}:index=0), "
        "and this application does not seem to"
    )


def run(options: Any, prog: str = "torsion mkunit") -> int:
    """Write the units ``options`` (parsed MkunitOptions) describe; return the exit status."""
    try:
        writeUnits(options)
    except OSError as e:
        print(f"{prog}: error: cannot write {e.filename}: {e.strerror}", file=sys.stderr)
        return 1
    warning = activationWarning(options)
    if warning is not None:
        print(f"{prog}: warning: {warning}", file=sys.stderr)
    return 0
