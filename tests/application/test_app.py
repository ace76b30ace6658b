"""torsion.application.app in-process: torsiond's options, reactor names, loading, starting.

The real runs (logging, daemonizing, the reactors) are in tests/scripts/test_torsiond.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.application.conftest import installedAsGlobal
from torsion.application import app, internet, service
from torsion.internet.protocol import ServerFactory
from torsion.internet.testing import MemoryReactor
from torsion.logger import LogLevel
from torsion.persisted import sob
from torsion.python import usage


@pytest.fixture
def memoryReactor() -> Iterator[MemoryReactor]:
    made = MemoryReactor()
    with installedAsGlobal(made):
        yield made


def options(*words: str) -> app.ServerOptions:
    made = app.ServerOptions()
    made.parseOptions(list(words))
    return made


def test_defaultsAndAbsolutePaths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = options("-y", "echo.tac")
    assert config["python"] == str(tmp_path / "echo.tac")
    assert config["pidfile"] == str(tmp_path / "torsiond.pid")
    assert config["rundir"] == str(tmp_path)
    assert config["logfile"] is None and config["nodaemon"] == 0 and config["no_save"] == 0
    assert config.applicationFile() == (str(tmp_path / "echo.tac"), "python")
    assert options("-x", "a.tax").applicationFile() == (str(tmp_path / "a.tax"), "xml")
    assert options("--pidfile=", "-f", "a.tap")["pidfile"] == ""
    assert options("-l", "-", "-n", "-s", "a.tas")["logfile"] == "-"


def test_withChrootTheRundirIsInsideIt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = options("--chroot", "jail", "-d", "/srv", "-y", "a.tac")
    assert (config["chroot"], config["rundir"]) == (str(tmp_path / "jail"), "/srv")


def test_pluginIsASubCommand() -> None:
    config = options("-n", "echo", "--listen", "tcp:9")
    assert config.subCommand == "echo"
    assert config.subOptions is not None and config.subOptions["listen"] == "tcp:9"
    assert config.applicationFile() is None


def test_passphraseIsTheEncryptedFlag() -> None:
    assert options("--passphrase", "-f", "a.etap")["encrypted"] == 1


def test_uidWithoutGidTakesTheUsersGroup() -> None:
    import pwd

    root = pwd.getpwuid(0)
    config = options("-u", root.pw_name, "-y", "a.tac")
    assert (config["uid"], config["gid"]) == (0, root.pw_gid)
    assert options("-u", "0", "-g", "12", "-y", "a.tac")["gid"] == 12


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ([], "no application given"),
        (["-y", "a", "-s", "b"], "give one application, not several"),
        (["-l", "-", "-y", "a"], "needs --nodaemon"),
        (["--umask", "8", "-y", "a"], "a umask is an octal number"),
        (["--max_rotated_files", "0", "-y", "a"], "keep at least 1 file"),
        (["-g", "no-such-group-here", "-y", "a"], "no group named"),
    ],
)
def test_badOptions(words: list[str], message: str) -> None:
    with pytest.raises(usage.UsageError, match=message):
        options(*words)


def test_umaskIsOctal() -> None:
    assert options("--umask", "027", "-y", "a")["umask"] == 0o027


def test_reactorProblems() -> None:
    assert app.reactorProblem("select") is None
    assert "unknown reactor 'nope'" in str(app.reactorProblem("nope"))
    import selectors

    if not hasattr(selectors, "KqueueSelector"):
        assert "cannot run on this system" in str(app.reactorProblem("kqueue"))
    with pytest.raises(app.NoSuchReactor, match="unknown reactor"):
        app.installReactor("nope")


def test_anInstalledReactorIsUsedOrRefused(memoryReactor: MemoryReactor) -> None:
    assert app.installReactor(None) is memoryReactor
    with pytest.raises(
        app.NoSuchReactor,
        match="cannot use the select reactor: reactor already installed: MemoryReactor",
    ):
        app.installReactor("select")


def tac(path: Path, text: str) -> app.ServerOptions:
    path.write_text(text)
    return options("-y", str(path))


def test_getApplicationFromATac(tmp_path: Path) -> None:
    config = tac(
        tmp_path / "ok.tac",
        "from torsion.application import service\napplication = service.Application('ok')\n",
    )
    application = app.getApplication(config, None)
    assert service.IService(application).name == "ok"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("application = (\n", r"bad\.tac, line 1: '\(' was never closed"),
        ("x = 1\n", "does not define 'application'"),
        ("application = 'text'\n", "gives 'text' as its application, which is not one"),
        ("1 / 0\n", r"bad\.tac, line 1: ZeroDivisionError: division by zero"),
    ],
)
def test_getApplicationErrors(tmp_path: Path, text: str, message: str) -> None:
    config = tac(tmp_path / "bad.tac", text)
    with pytest.raises(app.StartupError, match=message):
        app.getApplication(config, None)


def test_getApplicationPutsTheFilesDirectoryOnThePath(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.path", list(os.sys.path))  # type: ignore[attr-defined]
    (tmp_path / "helpermodule_for_tac.py").write_text("NAME = 'from the module'\n")
    config = tac(
        tmp_path / "uses.tac",
        "import helpermodule_for_tac\n"
        "from torsion.application import service\n"
        "application = service.Application(helpermodule_for_tac.NAME)\n",
    )
    try:
        assert service.IService(app.getApplication(config, None)).name == "from the module"
    finally:
        os.sys.modules.pop("helpermodule_for_tac", None)  # type: ignore[attr-defined]


def test_getApplicationFromAnEncryptedTap(tmp_path: Path) -> None:
    path = tmp_path / "secret.etap"
    sob.IPersistable(service.Application("secret")).save(filename=str(path), passphrase="pw")
    config = options("-f", str(path))
    with pytest.raises(app.StartupError, match=r"is encrypted.*\(add -e\)"):
        app.getApplication(config, None)
    assert service.IService(app.getApplication(config, "pw")).name == "secret"
    with pytest.raises(app.StartupError):
        app.getApplication(config, "wrong")


def test_getApplicationFromAPlugin(memoryReactor: MemoryReactor) -> None:
    config = options("echo", "--listen", "tcp:7007:interface=127.0.0.1")
    application = app.getApplication(config, None)
    root = service.IService(application)
    assert root.name == "echo"
    assert len(list(service.IServiceCollection(application))) == 1
    root.privilegedStartService()
    assert memoryReactor.tcpServers[0][0] == 7007


def test_aFailingPluginIsAStartupError(
    monkeypatch: pytest.MonkeyPatch, logged: list[dict[str, Any]]
) -> None:
    from torsion.tap import echo

    def broken(options: Any) -> Any:
        raise OSError("no such thing")

    monkeypatch.setattr(echo, "makeService", broken)
    with pytest.raises(
        app.StartupError, match="the echo plugin failed to make its service: OSError: no such thing"
    ):
        app.getApplication(options("echo"), None)
    assert any("log_failure" in e for e in logged)
    with pytest.raises(app.StartupError, match="no plugin is called 'nope'"):
        app.findServiceMaker("nope")


class Recording(service.Service):
    """Records its start and stop (module-level, so that it pickles)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def startService(self) -> None:
        super().startService()
        self.calls.append("start")

    def stopService(self) -> None:
        super().stopService()
        self.calls.append("stop")


class FailingStart(service.Service):
    def startService(self) -> None:
        raise ValueError("cannot start")


def runTriggers(reactor: MemoryReactor, phase: str) -> None:
    for f, args, kw in reactor.triggers.get(phase, {}).get("shutdown", []):
        f(*args, **kw)


def test_startApplicationStartsStopsAndSaves(
    memoryReactor: MemoryReactor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    application = service.Application("rec")
    recording = Recording()
    recording.setServiceParent(application)
    started: list[bool] = []
    app.startApplication(application, save=True, onStarted=lambda: started.append(True))
    assert recording.calls == []
    memoryReactor.run()
    assert (recording.calls, started) == (["start"], [True])
    runTriggers(memoryReactor, "before")
    assert recording.calls == ["start", "stop"]
    runTriggers(memoryReactor, "after")
    saved = sob.load(str(tmp_path / "rec-shutdown.tap"), "pickle")
    assert service.IService(saved).name == "rec"


def test_startApplicationWithoutSave(
    memoryReactor: MemoryReactor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app.startApplication(service.Application("nosave"), save=False)
    memoryReactor.run()
    runTriggers(memoryReactor, "after")
    assert list(tmp_path.iterdir()) == []


def test_aFailingStartStopsTheReactorAndSavesNothing(
    memoryReactor: MemoryReactor,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    logged: list[dict[str, Any]],
) -> None:
    monkeypatch.chdir(tmp_path)
    application = service.Application("failing")
    FailingStart().setServiceParent(application)
    failures: list[str] = []
    app.startApplication(application, save=True, onFailed=failures.append)
    memoryReactor.run()
    assert failures == ["starting the application failed: ValueError: cannot start"]
    assert memoryReactor.hasStopped
    runTriggers(memoryReactor, "after")
    assert list(tmp_path.iterdir()) == []
    assert any(e.get("log_level") == LogLevel.critical and "log_failure" in e for e in logged)


def test_anUnsaveableApplicationIsLoggedNotRaised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logged: list[dict[str, Any]]
) -> None:
    monkeypatch.chdir(tmp_path)
    application = service.Application("local")

    class Local(service.Service):  # defined in a function: pickle cannot find it
        pass

    Local().setServiceParent(application)
    assert app.saveApplication(application) is None
    errors = [e for e in logged if e.get("log_level") == LogLevel.error]
    assert len(errors) == 1
    assert errors[0]["error"].startswith("cannot save 'local' in the pickle (.tap) form")


def test_theLogGoesWhereTheOptionsSay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert app.AppLogger(options("-y", "a")).describe() == str(tmp_path / "torsiond.log")
    assert app.AppLogger(options("-n", "-y", "a")).describe() == "stdout"
    assert app.AppLogger(options("-n", "-l", "x.log", "-y", "a")).describe() == str(
        tmp_path / "x.log"
    )
    assert app.AppLogger(options("--syslog", "-y", "a")).describe() == "the system log"


def test_internetServicesAreApplicationsServices() -> None:
    # What the tests above rely on: TCPServer is a Service whose factory pickles.
    assert isinstance(internet.TCPServer(0, ServerFactory()), service.Service)
