"""The POSIX parts of torsiond in-process: pid files, the start-up report, waiting for a daemon.

The whole program, daemonizing for real, is tested in test_torsiond.py.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from torsion.application.app import StartupError
from torsion.scripts._torsiond_unix import (
    PidFile,
    _processExists,
    _StartupReport,
    _waitForDaemon,
    checkPID,
)


def deadPid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_processExists() -> None:
    assert _processExists(os.getpid())
    assert not _processExists(deadPid())


def test_aZombieIsNotAlive() -> None:
    child = os.fork()
    if child == 0:
        os._exit(0)
    try:
        # Not reaped yet: a zombie until waitpid below. How soon the child has exited
        # depends on the machine's load, so wait for that by the clock (bounded).
        deadline = time.monotonic() + 10
        while _processExists(child) and time.monotonic() < deadline:
            time.sleep(0.001)
        assert not _processExists(child)
    finally:
        os.waitpid(child, 0)


def test_checkPIDAcceptsNoFileOrNoName(tmp_path: Path) -> None:
    checkPID(str(tmp_path / "absent.pid"))
    checkPID("")


def test_checkPIDRefusesALiveProcess(tmp_path: Path) -> None:
    pidfile = tmp_path / "live.pid"
    pidfile.write_text(f"{os.getppid()}\n")
    with pytest.raises(StartupError, match=f"another server is running with pid {os.getppid()}"):
        checkPID(str(pidfile))
    assert pidfile.exists()


@pytest.mark.parametrize("stale", ["dead", "mine"])
def test_checkPIDRemovesAStaleFile(tmp_path: Path, stale: str) -> None:
    pidfile = tmp_path / "stale.pid"
    pidfile.write_text(f"{deadPid() if stale == 'dead' else os.getpid()}\n")
    checkPID(str(pidfile))
    assert not pidfile.exists()


def test_checkPIDRefusesGarbage(tmp_path: Path) -> None:
    pidfile = tmp_path / "garbage.pid"
    pidfile.write_bytes(b"\xff\xfe junk")
    with pytest.raises(StartupError, match="not a process id; remove it"):
        checkPID(str(pidfile))


def test_checkPIDOfAnUnreadablePath(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="cannot read the pid file"):
        checkPID(str(tmp_path))


def test_pidFileWritesAndRemovesItself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "app.pid"
    pidfile = PidFile(str(path))
    pidfile.write()
    assert path.read_text() == f"{os.getpid()}\n"
    assert path.stat().st_mode & 0o777 == 0o644
    monkeypatch.chdir("/")  # Removal works by the directory's descriptor, from anywhere.
    pidfile.remove()
    assert not path.exists()
    pidfile.remove()  # Twice is harmless.


def test_pidFileLeavesAnotherProcesssFile(tmp_path: Path) -> None:
    path = tmp_path / "app.pid"
    pidfile = PidFile(str(path))
    pidfile.write()
    path.write_text("1\n")
    pidfile.remove()
    assert path.read_text() == "1\n"


def test_pidFileInAMissingDirectory(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match=r"cannot write the pid file .*nowhere/app\.pid"):
        PidFile(str(tmp_path / "nowhere" / "app.pid")).write()


def test_reportGoesToStderrWithoutAPipe() -> None:
    stderr = io.StringIO()
    report = _StartupReport(None, stderr)
    report.failed("the port\nis taken")
    report.failed("a second error is not shown")
    assert stderr.getvalue() == "torsiond: error: the port is taken\n"


def test_reportOnAPipeIsSentOnce() -> None:
    readEnd, writeEnd = os.pipe()
    report = _StartupReport(writeEnd, io.StringIO())
    report.started()
    report.failed("too late")
    assert os.read(readEnd, 100) == b"started\n"
    assert os.read(readEnd, 100) == b""  # closed after the one message
    os.close(readEnd)


def waitFor(message: bytes | None) -> tuple[int, str]:
    readEnd, writeEnd = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(readEnd)
        if message is not None:
            os.write(writeEnd, message)
        os._exit(0)
    os.close(writeEnd)
    stderr = io.StringIO()
    status = _waitForDaemon(readEnd, child, stderr, "/var/log/app.log")
    return status, stderr.getvalue()


def test_waitingParentExitsZeroOnceStarted() -> None:
    assert waitFor(b"started\n") == (0, "")


def test_waitingParentPrintsTheDaemonsError() -> None:
    assert waitFor(b"error cannot read x.tac\n") == (1, "torsiond: error: cannot read x.tac\n")


def test_waitingParentNoticesASilentDeath() -> None:
    status, printed = waitFor(None)
    assert status == 1
    assert "exited while starting, without saying why; see /var/log/app.log" in printed
