"""``torsion mktap PLUGIN [options]``: save a plugin's service as an application file.

    torsion mktap echo --listen tcp:7              # writes echo.tap
    torsion mktap -t source echo                   # echo.tas, readable Python
    torsion mktap --encrypted echo                 # echo.etap ($TORSION_NEW_PASSPHRASE,
                                                   # $TORSION_PASSPHRASE, or the terminal)
    torsion mktap --append site.tap echo --listen tcp:7   # add it to an application

The file is then run with ``torsiond -f echo.tap`` (``-s`` for .tas, ``-x`` for .tax,
``-e`` if encrypted). ``--append`` loads the file, adds the service and writes the
file back in the form and encryption it had. ``--uid``/``--gid`` are stored in the
application, and torsiond switches to them after binding its ports.
Tests: tests/scripts/test_mktap.py.
"""

from __future__ import annotations

from typing import Any

from torsion.application import app, service
from torsion.persisted import sob
from torsion.python import usage
from torsion.scripts._passphrase import (
    NEW_PASSPHRASE_VARIABLE,
    PASSPHRASE_VARIABLE,
    PassphraseError,
    askPassphrase,
)

__all__ = ["MktapOptions", "makeTap"]


class MktapOptions(usage.Options):
    """The options of ``torsion mktap``; the plugin and its options follow them."""

    synopsis = "Usage: torsion mktap [options] PLUGIN [plugin options]"
    longdesc = (
        "Makes the service of a plugin (listed below; 'torsion mktap PLUGIN --help' shows "
        "its options) and saves it in an application file, PLUGIN.tap by default, for "
        "torsiond -f to run."
    )
    optFlags = [
        [
            "encrypted",
            "e",
            "Encrypt the file (.etap): the passphrase comes from "
            "$TORSION_NEW_PASSPHRASE or $TORSION_PASSPHRASE, else is asked twice on the "
            "terminal.",
        ],
    ]
    optParameters = [
        [
            "type",
            "t",
            "pickle",
            "The form of the file: pickle (.tap), source (.tas) or xml (.tax).",
        ],
        [
            "append",
            "a",
            None,
            "Add the service to the application in this file, and write it back in its own form.",
        ],
        [
            "appname",
            "n",
            None,
            "The name of the new application, and of its file (default: the plugin's name).",
        ],
        [
            "uid",
            "u",
            None,
            "The user (name or number) torsiond switches to after binding the ports.",
            app.uidCoerce,
        ],
        ["gid", "g", None, "The group (name or number) torsiond switches to.", app.gidCoerce],
    ]

    @property
    def subCommands(self) -> list[tuple[str, None, Any, str]]:
        """One sub-command per IServiceMaker plugin."""
        return app.pluginCommands()

    def postOptions(self) -> None:
        """Check that a plugin was named and the options fit together."""
        if self.subCommand is None:
            plugins = ", ".join(str(c[0]) for c in self.subCommands) or "none installed"
            raise usage.UsageError(f"name the plugin whose service to save (plugins: {plugins})")
        if self["type"] not in sob.STYLES:
            raise usage.UsageError(f"unknown --type {self['type']!r}: choose pickle, source or xml")
        if self["append"] is not None and (
            self["encrypted"] or self["type"] != "pickle" or self["appname"] is not None
        ):
            raise usage.UsageError(
                "--append writes the file back as it was: leave out -e, -t and -n "
                "(convert it afterwards with torsion tapconvert)"
            )


def makeTap(options: MktapOptions) -> str:
    """Make the plugin's service, save it as ``options`` say, and return the file name.

    Raises:
        app.StartupError: the plugin fails, or the file cannot be read or written.
    """
    assert options.subCommand is not None
    plugin = app.findServiceMaker(options.subCommand)
    if options["append"] is not None:
        return _append(options, plugin)
    application = service.Application(
        options["appname"] or str(plugin.tapname), options["uid"], options["gid"]
    )
    _addService(application, plugin, options.subOptions)
    passphrase = None
    if options["encrypted"]:
        passphrase = _ask([NEW_PASSPHRASE_VARIABLE, PASSPHRASE_VARIABLE], "the new file", True)
    persistable = sob.IPersistable(application)
    persistable.setStyle(options["type"])
    return _save(persistable, None, passphrase)


def _append(options: MktapOptions, plugin: Any) -> str:
    path = options["append"]
    try:
        style = sob.guessType(path)
    except ValueError as e:
        raise app.StartupError(str(e)) from None
    if style == "python":
        raise app.StartupError(f"{path} is a .tac file: edit it to add the service")
    passphrase = None
    try:
        with open(path, "rb") as f:
            from torsion.persisted import _crypto

            if _crypto.isEncrypted(f.read()):
                passphrase = _ask([PASSPHRASE_VARIABLE], path, False)
    except OSError as e:
        raise app.StartupError(f"cannot read {path}: {e.strerror}") from None
    try:
        application = sob.load(path, style, passphrase)
    except sob.PersistenceError as e:
        raise app.StartupError(str(e)) from None
    if service.IServiceCollection(application, None) is None:
        raise app.StartupError(f"{path} holds no application to add a service to")
    process = service.IProcess(application, None)
    if process is not None:
        if options["uid"] is not None:
            process.uid = options["uid"]
        if options["gid"] is not None:
            process.gid = options["gid"]
    _addService(application, plugin, options.subOptions)
    return _save(sob.IPersistable(application), path, passphrase)


def _addService(application: Any, plugin: Any, pluginOptions: Any) -> None:
    try:
        made = plugin.makeService(pluginOptions)
        service.IService(made).setServiceParent(application)
    except Exception as e:
        raise app.StartupError(
            f"the {plugin.tapname} plugin failed to make its service: "
            f"{type(e).__name__}: {' '.join(str(e).split())}"
        ) from None


def _ask(variables: list[str], what: str, confirm: bool) -> str:
    try:
        return askPassphrase(variables, f"Passphrase for {what}: ", confirm)
    except PassphraseError as e:
        raise app.StartupError(str(e)) from None


def _save(persistable: Any, filename: str | None, passphrase: str | None) -> str:
    try:
        return str(persistable.save(filename=filename, passphrase=passphrase))
    except sob.PersistenceError as e:
        raise app.StartupError(str(e)) from None
    except OSError as e:
        name = e.filename or filename or "the file"
        raise app.StartupError(f"cannot write {name}: {e.strerror or e}") from None
