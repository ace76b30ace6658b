"""``torsion mktap``, run as a child process: plugin services saved as application files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.scripts.torsiondkit import EXAMPLES, Runner, assertOneLineError, runInProcess
from torsion.application import service
from torsion.persisted import sob
from torsion.scripts import torsion


def loadApplication(path: Path, passphrase: str | None = None) -> Any:
    return sob.load(str(path), sob.guessType(str(path)), passphrase)


def services(application: Any) -> list[Any]:
    return list(service.IServiceCollection(application))


def endpointOf(made: Any) -> tuple[int, str]:
    return made.endpoint._port, made.endpoint._interface


def test_makesPluginTap(runner: Runner, tmp_path: Path) -> None:
    done = runner.torsion("mktap", "echo")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    application = loadApplication(tmp_path / "echo.tap")
    assert service.IService(application).name == "echo"
    (made,) = services(application)
    assert endpointOf(made) == (8007, "127.0.0.1")
    assert made.factory.protocol.__name__ == "Echo"
    process = service.IProcess(application)
    assert (process.uid, process.gid) == (None, None)


@pytest.mark.parametrize(("form", "name"), [("source", "echo.tas"), ("xml", "echo.tax")])
def test_otherForms(runner: Runner, tmp_path: Path, form: str, name: str) -> None:
    assert runner.torsion("mktap", "-t", form, "echo", "-l", "tcp:7").returncode == 0
    text = (tmp_path / name).read_text()
    assert "torsion.tap.echo.EchoFactory" in text
    (made,) = services(loadApplication(tmp_path / name))
    assert endpointOf(made) == (7, "")


def test_appnameUidAndGid(runner: Runner, tmp_path: Path) -> None:
    import grp
    import pwd

    done = runner.torsion(
        "mktap",
        "-n",
        "mioservizio",
        "-u",
        pwd.getpwuid(0).pw_name,
        "-g",
        grp.getgrgid(0).gr_name,
        "echo",
    )
    assert done.returncode == 0, done.stderr
    application = loadApplication(tmp_path / "mioservizio.tap")
    assert sob.IPersistable(application).name == "mioservizio"
    process = service.IProcess(application)
    assert (process.uid, process.gid) == (0, 0)


def test_encrypted(runner: Runner, tmp_path: Path) -> None:
    done = runner.torsion("mktap", "--encrypted", "echo", TORSION_NEW_PASSPHRASE="nuova")
    assert done.returncode == 0, done.stderr
    with pytest.raises(sob.PassphraseRequired):
        loadApplication(tmp_path / "echo.etap")
    assert service.IService(loadApplication(tmp_path / "echo.etap", "nuova")).name == "echo"
    done = runner.torsion("mktap", "-e", "echo")
    assertOneLineError(done, "no passphrase given", program="torsion mktap")


def test_appendAddsToAnApplicationAndKeepsItsForm(runner: Runner, tmp_path: Path) -> None:
    assert runner.torsion("mktap", "-t", "source", "echo", "-l", "tcp:7001").returncode == 0
    done = runner.torsion("mktap", "--append", "echo.tas", "-u", "0", "echo", "-l", "tcp:7002")
    assert done.returncode == 0, done.stderr
    application = loadApplication(tmp_path / "echo.tas")
    assert [endpointOf(s)[0] for s in services(application)] == [7001, 7002]
    assert service.IProcess(application).uid == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["echo.tas"]


def test_appendToAnEncryptedFile(runner: Runner, tmp_path: Path) -> None:
    secret = {"TORSION_PASSPHRASE": "segreta"}
    assert runner.torsion("mktap", "-e", "echo", "-l", "tcp:7001", **secret).returncode == 0
    done = runner.torsion("mktap", "-a", "echo.etap", "echo", "-l", "tcp:7002")
    assertOneLineError(done, "no passphrase given", program="torsion mktap")
    done = runner.torsion("mktap", "-a", "echo.etap", "echo", "-l", "tcp:7002", **secret)
    assert done.returncode == 0, done.stderr
    application = loadApplication(tmp_path / "echo.etap", "segreta")
    assert [endpointOf(s)[0] for s in services(application)] == [7001, 7002]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nothere.tap", "cannot read"),
        (str(EXAMPLES / "echo.tac"), "is a .tac file: edit it to add the service"),
        ("notes.txt", "cannot tell the format of notes.txt"),
    ],
)
def test_appendErrors(runner: Runner, tmp_path: Path, target: str, message: str) -> None:
    (tmp_path / "notes.txt").write_text("")
    done = runner.torsion("mktap", "--append", target, "echo")
    assertOneLineError(done, message, program="torsion mktap")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "name the plugin whose service to save (plugins: "),
        (["nosuch"], "unknown command: nosuch"),
        (["-t", "yaml", "echo"], "unknown --type 'yaml'"),
        (["--append", "x.tap", "-t", "source", "echo"], "--append writes the file back"),
        (["echo", "--listen", "bogus:1"], "unknown endpoint type 'bogus'"),
        (["-u", "no-such-user-here", "echo"], "no user named"),
    ],
)
def test_usageErrors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    done = runInProcess(torsion.run, ["mktap", *args], capsys)
    assertOneLineError(done, message, status=2, program="torsion mktap")


def test_aFileThatCannotBeWritten(runner: Runner, tmp_path: Path) -> None:
    if os.getuid() == 0:
        pytest.skip("root can write anywhere")
    tmp_path.chmod(0o500)
    try:
        done = runner.torsion("mktap", "echo")
    finally:
        tmp_path.chmod(0o700)
    assertOneLineError(done, "cannot write", program="torsion mktap")
