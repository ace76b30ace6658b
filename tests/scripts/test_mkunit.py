"""``torsion mkunit``: the unit files it writes, checked by content, by systemd-analyze
where it is installed, and by running the service's command under socket activation."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.examples.test_echoserv import LineReader
from tests.scripts.torsiondkit import (
    EXAMPLES,
    Runner,
    assertOneLineError,
    echoes,
    environment,
    runInProcess,
)
from torsion.scripts import torsion

MKUNIT = "torsion mkunit"


def unitLines(path: Path) -> dict[str, list[str]]:
    """``{key: [values]}`` of a unit file (sections ignored; comments skipped)."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


def execStart(path: Path) -> list[str]:
    """The ExecStart= command of a unit, as systemd reads it (for the quoting we write)."""
    (command,) = unitLines(path)["ExecStart"]
    return [word.replace("%%", "%").replace("$$", "$") for word in shlex.split(command)]


def test_serviceForATac(runner: Runner, tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "echo.tac", tmp_path / "echo.tac")
    done = runner.torsion(
        "mkunit", "--name", "echo", "--tac", "echo.tac", "--user", "echo", "--group", "echo"
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    assert sorted(p.name for p in tmp_path.glob("echo.*")) == ["echo.service", "echo.tac"]
    unit = unitLines(tmp_path / "echo.service")
    command = execStart(tmp_path / "echo.service")
    assert os.path.isabs(command[0]) and os.access(command[0], os.X_OK)
    assert command[command.index("--nodaemon") :] == [
        "--nodaemon",
        "--pidfile=",
        "--logfile=-",
        "--no_save",
        "--python",
        str(tmp_path / "echo.tac"),
    ]
    assert unit["WorkingDirectory"] == [str(tmp_path)]
    assert unit["User"] == ["echo"] and unit["Group"] == ["echo"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["WantedBy"] == ["multi-user.target"]
    assert unit["Description"] == [f"echo: a torsion application ({tmp_path / 'echo.tac'})"]


def test_theTorsiondBesideThisPythonIsUsed(runner: Runner, tmp_path: Path) -> None:
    (tmp_path / "a.tac").write_text("")
    assert runner.torsion("mkunit", "--name", "a", "--tac", "a.tac").returncode == 0
    beside = Path(sys.executable).parent / "torsiond"
    command = execStart(tmp_path / "a.service")
    if beside.exists():
        assert command[0] == str(beside)
    else:
        assert command[:3] == [os.path.abspath(sys.executable), "-m", "torsion.scripts.torsiond"]
    assert (
        runner.torsion(
            "mkunit", "--name", "b", "--tac", "a.tac", "--torsiond", "/opt/b/venv/bin/torsiond"
        ).returncode
        == 0
    )
    assert execStart(tmp_path / "b.service")[0] == "/opt/b/venv/bin/torsiond"


@pytest.mark.parametrize(
    ("name", "flag"), [("echo.tap", "--file"), ("echo.tas", "--source"), ("echo.tax", "--xml")]
)
def test_serviceForASavedApplication(runner: Runner, tmp_path: Path, name: str, flag: str) -> None:
    done = runner.torsion(
        "mkunit", "--name", "echo", "--tap", name, "--save", "--workdir", "/var/lib/echo"
    )
    assert done.returncode == 0, done.stderr
    command = execStart(tmp_path / "echo.service")
    assert command[-2:] == [flag, str(tmp_path / name)]
    assert "--no_save" not in command
    assert unitLines(tmp_path / "echo.service")["WorkingDirectory"] == ["/var/lib/echo"]


def test_anEncryptedFileNeedsAnEnvironmentFile(runner: Runner, tmp_path: Path) -> None:
    done = runner.torsion("mkunit", "--name", "echo", "--tap", "echo.etap")
    assertOneLineError(done, "is encrypted", "--environment-file", status=2, program=MKUNIT)
    done = runner.torsion(
        "mkunit",
        "--name",
        "echo",
        "--tap",
        "echo.etap",
        "--environment-file",
        "/etc/echo/secret.env",
    )
    assert done.returncode == 0, done.stderr
    command = execStart(tmp_path / "echo.service")
    assert command[-3:] == ["--encrypted", "--file", str(tmp_path / "echo.etap")]
    assert unitLines(tmp_path / "echo.service")["EnvironmentFile"] == ["/etc/echo/secret.env"]


@pytest.mark.parametrize(
    ("description", "listen", "extra"),
    [
        ("tcp:7", "0.0.0.0:7", {}),
        ("tcp:7:interface=127.0.0.1", "127.0.0.1:7", {}),
        ("tcp:8007:backlog=128", "0.0.0.0:8007", {"Backlog": ["128"]}),
        ("tcp6:7", "[::]:7", {"BindIPv6Only": ["ipv6-only"]}),
        ("tcp6:7:interface=\\:\\:1", "[::1]:7", {"BindIPv6Only": ["ipv6-only"]}),
        ("unix:/run/echo.sock:mode=660", "/run/echo.sock", {"SocketMode": ["0660"]}),
    ],
)
def test_socketUnit(
    runner: Runner, tmp_path: Path, description: str, listen: str, extra: dict[str, list[str]]
) -> None:
    done = runner.torsion(
        "mkunit",
        "--name",
        "echo",
        "--socket",
        description,
        "echo",
        "--listen",
        "systemd:domain=INET:index=0",
    )
    assert (done.returncode, done.stderr) == (0, "")
    socketUnit = unitLines(tmp_path / "echo.socket")
    assert socketUnit["ListenStream"] == [listen]
    for key, value in extra.items():
        assert socketUnit[key] == value
    assert socketUnit["WantedBy"] == ["sockets.target"]
    service = unitLines(tmp_path / "echo.service")
    assert service["Requires"] == ["echo.socket"]
    assert "WantedBy" not in service  # started by its socket
    assert execStart(tmp_path / "echo.service")[-3:] == [
        "echo",
        "--listen",
        "systemd:domain=INET:index=0",
    ]


def test_socketWithoutTheSystemdEndpointWarns(runner: Runner, tmp_path: Path) -> None:
    shutil.copy(EXAMPLES / "echo.tac", tmp_path / "echo.tac")
    done = runner.torsion("mkunit", "--name", "echo", "--socket", "tcp:7", "--tac", "echo.tac")
    assert done.returncode == 0
    assert done.stderr == (
        "torsion mkunit: warning: the service must listen on the socket systemd passes it "
        "(systemd:domain=INET:index=0), and this application does not seem to\n"
    )


def test_argumentsAreQuotedForSystemd(runner: Runner, tmp_path: Path) -> None:
    odd = tmp_path / "my app 100%"
    odd.mkdir()
    (odd / "a b.tac").write_text("")
    done = runner.torsion(
        "mkunit", "--name", "odd", "--tac", str(odd / "a b.tac"), "--description", "costs $5"
    )
    assert done.returncode == 0, done.stderr
    assert execStart(tmp_path / "odd.service")[-1] == str(odd / "a b.tac")
    assert '"' in unitLines(tmp_path / "odd.service")["ExecStart"][0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tac", "a.tac"], "give the unit a name with --name"),
        (["--name", "bad name", "--tac", "a.tac"], "a unit name has only"),
        (["--name", "x"], "give what the service runs"),
        (["--name", "x", "--tac", "a.tac", "--tap", "a.tap"], "give what the service runs"),
        (["--name", "x", "--tap", "a.tac"], "is a Python file: give it with --tac"),
        (["--name", "x", "--tap", "a.txt"], "cannot tell the format"),
        (["--name", "x", "--tac", "a.tac", "--socket", "udp:53"], "give tcp:PORT"),
        (["--name", "x", "--tac", "a.tac", "--socket", "tcp:0"], "a port is from 1 to 65535"),
        (["--name", "x", "--tac", "a.tac", "--socket", "unix:rel.sock"], "unix:/ABSOLUTE/PATH"),
        (["--name", "x", "--tac", "a.tac", "--socket", "tcp:7:frob=1"], "unknown frob"),
    ],
)
def test_usageErrors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    done = runInProcess(torsion.run, ["mkunit", *args], capsys)
    assertOneLineError(done, message, status=2, program=MKUNIT)


def test_unwritableDirectory(runner: Runner, tmp_path: Path) -> None:
    done = runner.torsion("mkunit", "--name", "x", "--tac", "a.tac", "-d", "nowhere")
    assertOneLineError(done, "cannot write nowhere/x.service", program=MKUNIT)


def test_systemdAcceptsTheUnits(runner: Runner, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    shutil.copy(EXAMPLES / "echo.tac", tmp_path / "echo.tac")
    import pwd

    user = pwd.getpwuid(os.getuid()).pw_name
    assert (
        runner.torsion("mkunit", "--name", "echo", "--tac", "echo.tac", "--user", user).returncode
        == 0
    )
    assert (
        runner.torsion(
            "mkunit",
            "--name",
            "echoactivated",
            "--socket",
            "tcp:7:interface=127.0.0.1",
            "--user",
            user,
            "echo",
            "--listen",
            "systemd:domain=INET:index=0",
        ).returncode
        == 0
    )
    files = [
        str(tmp_path / n) for n in ("echo.service", "echoactivated.service", "echoactivated.socket")
    ]
    done = subprocess.run(
        [analyze, "verify", *files], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    ours = [line for line in done.stderr.splitlines() if str(tmp_path) in line]
    assert done.returncode == 0 and ours == [], done.stderr


def test_theServiceRunsUnderSocketActivation(runner: Runner, tmp_path: Path) -> None:
    """Run the unit's ExecStart as systemd would: the socket bound already, as fd 3,
    with LISTEN_FDS and LISTEN_PID set for the service's own process."""
    assert (
        runner.torsion(
            "mkunit",
            "--name",
            "echo",
            "--socket",
            "tcp:7",
            "echo",
            "--listen",
            "systemd:domain=INET:index=0",
        ).returncode
        == 0
    )
    command = execStart(tmp_path / "echo.service")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        fd = listener.fileno()
        # What systemd does between fork and exec: the socket becomes descriptor 3, and
        # LISTEN_PID names the process that the exec keeps.
        activate = (
            "import os, sys;"
            f" fd = {fd}; fd == 3 or (os.dup2(fd, 3), os.close(fd));"
            " os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid()));"
            " os.execv(sys.argv[1], sys.argv[1:])"
        )
        child = subprocess.Popen(
            [sys.executable, "-c", activate, *command],
            pass_fds=[fd],
            cwd=tmp_path,
            env=environment(PYTHONUNBUFFERED="1"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    runner.daemons.append(child.pid)
    assert child.stdout is not None and child.stderr is not None
    reader = LineReader(child.stdout)
    try:
        reader.waitFor(r"EchoFactory starting on", 30)
    except AssertionError:
        child.kill()
        raise AssertionError(child.stderr.read()) from None
    assert echoes(port, b"attivato da systemd\n") == b"attivato da systemd\n"
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=15) == 0, child.stderr.read()
    reader.waitFor(r"Server Shut Down\.$", 5)
    assert not list(tmp_path.glob("*.pid")) and not list(tmp_path.glob("*-shutdown.tap"))
    assert re.search(r"reactor class", "".join(reader.seen))
