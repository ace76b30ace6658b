"""torsiond run as the seed runs twistd: child processes, real sockets, pid and log files.

The walk-through: ``torsiond --python echo.tac`` daemonizes (torsiond.pid,
torsiond.log), echoes, stops on ``kill $(cat torsiond.pid)`` logging it and saving
echo-shutdown.tap, and ``torsiond -f echo-shutdown.tap`` serves again; the custom
echo (mioeco) logs "mioeco.Fabbrica starting on N" and, from the protocol's print,
"[EcoPerRiga,0,127.0.0.1] IPv4Address(TCP, '127.0.0.1', N) una riga". The copies of
the examples listen on a free port of 127.0.0.1 (tests/scripts/torsiondkit.copyTac).
Then every way to get it wrong: each is one line on stderr and a non-zero status.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.examples.test_echoserv import LineReader
from tests.scripts.torsiondkit import (
    EXAMPLES,
    STAMP,
    Runner,
    assertOneLineError,
    copyTac,
    echoes,
    portFromLog,
    runInProcess,
    waitForLog,
    waitGone,
)
from torsion import __version__
from torsion.application.app import reactorProblem
from torsion.persisted import sob
from torsion.scripts import torsiond

ECHO_CALL = "internet.TCPServer(7, factory)"
MIOECO_CALL = "internet.TCPServer(7777, factory)"
ON_LOOPBACK = "internet.TCPServer({port}, factory, interface='127.0.0.1')"


def echoTac(directory: Path, port: int = 0) -> Path:
    return copyTac(
        EXAMPLES / "echo.tac", directory / "echo.tac", ECHO_CALL, ON_LOOPBACK.format(port=port)
    )


def mioecoTac(directory: Path) -> Path:
    shutil.copy(EXAMPLES / "mioeco.py", directory / "mioeco.py")
    return copyTac(
        EXAMPLES / "mioeco.tac", directory / "mioeco.tac", MIOECO_CALL, ON_LOOPBACK.format(port=0)
    )


def daemonPid(directory: Path) -> int:
    return int((directory / "torsiond.pid").read_text())


def stopDaemon(directory: Path, sig: signal.Signals = signal.SIGTERM) -> None:
    """``kill $(cat torsiond.pid)``, and wait until it has exited."""
    pid = daemonPid(directory)
    os.kill(pid, sig)
    waitGone(pid)


def assertEveryLineStamped(log: Path) -> None:
    for line in log.read_text(encoding="utf-8").splitlines():
        if not line.startswith("\t"):
            assert re.match(rf"{STAMP} \[[^]]+\] ", line), line


# -- the seed's walk-through ------------------------------------------------------------


def test_echoTacDaemonizesEchoesStopsSavesAndResumes(runner: Runner, tmp_path: Path) -> None:
    echoTac(tmp_path)
    done = runner.torsiond("--python", "echo.tac")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    pid = daemonPid(tmp_path)
    assert pid != os.getpid()
    log = tmp_path / "torsiond.log"
    port = portFromLog(log)
    factory = r"torsion\.internet\.protocol\.ServerFactory"
    waitForLog(log, rf"^{STAMP} \[-\] {factory} starting on {port}$")
    waitForLog(log, r"^.* \[-\] Starting factory <torsion\.internet\.protocol\.ServerFactory")
    assert echoes(port) == b"hello, torsion\r\n"

    stopDaemon(tmp_path)
    text = log.read_text(encoding="utf-8")
    assert re.search(rf"^{STAMP} \[-\] Received SIGTERM, shutting down\.$", text, re.M)
    assert re.search(rf"\] \(TCP Port {port} Closed\)$", text, re.M)
    assert re.search(r"\] Stopping factory <torsion\.internet\.protocol\.ServerFactory", text)
    assert re.search(r"\[-\] Saved echo to echo-shutdown\.tap$", text, re.M)
    assert text.rstrip().endswith("[-] Server Shut Down.")
    assertEveryLineStamped(log)
    assert not (tmp_path / "torsiond.pid").exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()

    saved = sob.load(str(tmp_path / "echo-shutdown.tap"), "pickle")
    assert sob.IPersistable(saved).name == "echo"
    before = len(log.read_text(encoding="utf-8"))
    done = runner.torsiond("-f", "echo-shutdown.tap")
    assert done.returncode == 0, done.stderr
    again = portFromLog(log, after=before)
    assert echoes(again, b"di nuovo\n") == b"di nuovo\n"
    stopDaemon(tmp_path)
    waitForLog(log, r"Server Shut Down\.$", after=before)


def test_mioecoLogsTheSeedsLinesFromItsPrint(runner: Runner, tmp_path: Path) -> None:
    mioecoTac(tmp_path)
    done = runner.torsiond("-y", "mioeco.tac")
    assert done.returncode == 0, done.stderr
    log = tmp_path / "torsiond.log"
    port = portFromLog(log)
    waitForLog(log, rf"^{STAMP} \[-\] mioeco\.Fabbrica starting on {port}$")
    for session in range(2):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            clientPort = s.getsockname()[1]
            s.sendall(b"una riga\r\n")
            assert s.recv(100) == b"una riga\r\n"
        waitForLog(
            log,
            rf"^{STAMP} \[EcoPerRiga,{session},127\.0\.0\.1\] "
            rf"IPv4Address\(TCP, '127\.0\.0\.1', {clientPort}\) una riga$",
        )
    stopDaemon(tmp_path)
    assert (tmp_path / "mioeco-shutdown.tap").exists()
    assertEveryLineStamped(log)

    # Resuming finds the classes again through the module (the seed's point).
    before = len(log.read_text(encoding="utf-8"))
    assert runner.torsiond("-f", "mioeco-shutdown.tap").returncode == 0
    port = portFromLog(log, after=before)
    waitForLog(log, rf"\[-\] mioeco\.Fabbrica starting on {port}$", after=before)
    assert echoes(port, b"ancora\r\n") == b"ancora\r\n"
    waitForLog(log, r"\[EcoPerRiga,0,127\.0\.0\.1\] IPv4Address\(TCP, .*\) ancora$", after=before)
    stopDaemon(tmp_path)


def test_nodaemonLogsToStdoutAndStopsOnSigint(runner: Runner, tmp_path: Path) -> None:
    echoTac(tmp_path)
    child = runner.popen("-n", "-y", "echo.tac")
    assert child.stdout is not None and child.stderr is not None
    reader = LineReader(child.stdout)
    started = reader.waitFor(r"starting on \d+$", 30)
    assert re.match(rf"{STAMP} \[-\] ", started)
    port = int(started.rsplit(" ", 1)[1])
    assert (tmp_path / "torsiond.pid").read_text() == f"{child.pid}\n"
    assert echoes(port) == b"hello, torsion\r\n"
    child.send_signal(signal.SIGINT)
    assert child.wait(timeout=15) == 0
    reader.waitFor(r"\[-\] Received SIGINT, shutting down\.$", 5)
    reader.waitFor(r"Server Shut Down\.$", 5)
    assert child.stderr.read() == ""
    assert not (tmp_path / "torsiond.pid").exists()
    assert not (tmp_path / "torsiond.log").exists()
    assert (tmp_path / "echo-shutdown.tap").exists()


def test_whatTheApplicationPrintsToStderrIsLoggedToo(runner: Runner, tmp_path: Path) -> None:
    (tmp_path / "loud.tac").write_text(
        "import sys\n"
        "from torsion.application import service\n"
        "print('printed while loading')\n"
        "print('a complaint', file=sys.stderr)\n"
        "application = service.Application('loud')\n"
    )
    assert runner.torsiond("--no_save", "-y", "loud.tac").returncode == 0
    log = tmp_path / "torsiond.log"
    waitForLog(log, rf"^{STAMP} \[-\] printed while loading$")
    waitForLog(log, rf"^{STAMP} \[-\] a complaint$")
    stopDaemon(tmp_path)
    assert not (tmp_path / "loud-shutdown.tap").exists()


def test_syslogTakesTheLogInsteadOfStdout(runner: Runner, tmp_path: Path) -> None:
    # Where the lines end up depends on the system's syslog daemon (tests/python/
    # test_syslog.py checks the messages); here: torsiond runs with it, and stdout is quiet.
    if not Path("/proc/self/net/tcp").exists():
        pytest.skip("finding the port without a log needs Linux's /proc")
    echoTac(tmp_path)
    child = runner.popen("-n", "-o", "--syslog", "--prefix", "torsiond-test", "-y", "echo.tac")
    assert child.stdout is not None and child.stderr is not None
    for _ in range(500):
        if (tmp_path / "torsiond.pid").exists():
            break
        time.sleep(0.02)
    port = _listeningPort(child.pid)
    assert echoes(port) == b"hello, torsion\r\n"
    child.terminate()
    assert child.wait(timeout=15) == 0
    assert child.stdout.read() == "" and child.stderr.read() == ""
    assert not (tmp_path / "torsiond.log").exists()


def _listeningPort(pid: int) -> int:
    """The TCP port that process ``pid`` listens on (from /proc), waiting a little."""
    for _ in range(500):
        inodes = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                return int(fields[1].split(":")[1], 16)
        time.sleep(0.02)
    raise AssertionError(f"process {pid} listens on no TCP port")


def test_aPluginRunsItsServiceAndIsSavedAndResumed(runner: Runner, tmp_path: Path) -> None:
    done = runner.torsiond("echo", "--listen", "tcp:0:interface=127.0.0.1")
    assert done.returncode == 0, done.stderr
    log = tmp_path / "torsiond.log"
    port = portFromLog(log)
    waitForLog(log, rf"\[-\] torsion\.tap\.echo\.EchoFactory starting on {port}$")
    assert echoes(port) == b"hello, torsion\r\n"
    stopDaemon(tmp_path)
    assert (tmp_path / "echo-shutdown.tap").exists()
    before = len(log.read_text(encoding="utf-8"))
    assert runner.torsiond("-f", "echo-shutdown.tap").returncode == 0
    assert echoes(portFromLog(log, after=before)) == b"hello, torsion\r\n"
    stopDaemon(tmp_path)


def test_noSaveWritesNoShutdownTap(runner: Runner, tmp_path: Path) -> None:
    child = runner.popen("-n", "-o", "echo", "-l", "tcp:0:interface=127.0.0.1")
    assert child.stdout is not None
    reader = LineReader(child.stdout)
    port = int(reader.waitFor(r"starting on \d+$", 30).rsplit(" ", 1)[1])
    assert echoes(port) == b"hello, torsion\r\n"
    child.terminate()
    assert child.wait(timeout=15) == 0
    reader.waitFor("Server Shut Down", 5)
    assert not (tmp_path / "echo-shutdown.tap").exists()
    assert not any("Saved" in line for line in reader.seen)


def test_encryptedFilesRunWithThePassphraseAndAreSavedEncrypted(
    runner: Runner, tmp_path: Path
) -> None:
    secret = {"TORSION_PASSPHRASE": "una parola segreta"}
    made = runner.torsion(
        "mktap", "--encrypted", "echo", "-l", "tcp:0:interface=127.0.0.1", **secret
    )
    assert made.returncode == 0, made.stderr
    done = runner.torsiond("-f", "echo.etap")
    assertOneLineError(done, "echo.etap is encrypted", "(add -e)")
    done = runner.torsiond("-e", "-f", "echo.etap", TORSION_PASSPHRASE="wrong")
    assertOneLineError(done, "echo.etap")
    done = runner.torsiond("-e", "-f", "echo.etap")
    assertOneLineError(done, "no passphrase given: set $TORSION_PASSPHRASE")
    done = runner.torsiond("-e", "-f", "echo.etap", **secret)
    assert done.returncode == 0, done.stderr
    assert echoes(portFromLog(tmp_path / "torsiond.log")) == b"hello, torsion\r\n"
    stopDaemon(tmp_path)
    assert not (tmp_path / "echo-shutdown.tap").exists()
    with pytest.raises(sob.PassphraseRequired):
        sob.load(str(tmp_path / "echo-shutdown.etap"), "pickle")
    sob.load(str(tmp_path / "echo-shutdown.etap"), "pickle", secret["TORSION_PASSPHRASE"])
    plain = runner.torsiond("-e", "-f", str(EXAMPLES / "echo.tac"), **secret)
    assertOneLineError(plain, "echo.tac is not encrypted: drop -e")


def test_sourceAndXmlFilesRun(runner: Runner, tmp_path: Path) -> None:
    for flag, form, name in (("-s", "source", "echo.tas"), ("-x", "xml", "echo.tax")):
        made = runner.torsion("mktap", "-t", form, "echo", "-l", "tcp:0:interface=127.0.0.1")
        assert made.returncode == 0, made.stderr
        log = tmp_path / f"{form}.log"
        done = runner.torsiond("--no_save", "-l", log.name, flag, name)
        assert done.returncode == 0, done.stderr
        assert echoes(portFromLog(log)) == b"hello, torsion\r\n"
        stopDaemon(tmp_path)


@pytest.mark.parametrize("name", ["select", "poll", "epoll", "asyncio", "uvloop"])
def test_reactorChoice(runner: Runner, tmp_path: Path, name: str) -> None:
    problem = reactorProblem(name)
    if problem is not None:
        pytest.skip(problem)
    echoTac(tmp_path)
    done = runner.torsiond("--reactor", name, "-o", "-y", "echo.tac")
    assert done.returncode == 0, done.stderr
    log = tmp_path / "torsiond.log"
    classes = {
        "select": "torsion.internet.selectreactor.SelectReactor",
        "poll": "torsion.internet.pollreactor.PollReactor",
        "epoll": "torsion.internet.epollreactor.EPollReactor",
        "asyncio": "torsion.internet.asyncioreactor.AsyncioSelectorReactor",
        "uvloop": "torsion.internet.asyncioreactor.AsyncioSelectorReactor",
    }
    waitForLog(log, rf"\[-\] reactor class: {re.escape(classes[name])}\.$")
    assert echoes(portFromLog(log)) == b"hello, torsion\r\n"
    stopDaemon(tmp_path)
    waitForLog(log, r"Server Shut Down\.$")


def test_logRotatesBySizeAndOnSigusr1(runner: Runner, tmp_path: Path) -> None:
    mioecoTac(tmp_path)
    done = runner.torsiond(
        "-o", "--rotate_length", "600", "--max_rotated_files", "2", "-y", "mioeco.tac"
    )
    assert done.returncode == 0, done.stderr
    log = tmp_path / "torsiond.log"
    port = portFromLog(log)
    lines = b"".join(b"riga numero %d\r\n" % n for n in range(30))
    assert echoes(port, lines) == lines
    waitForLog(tmp_path / "torsiond.log.1", r"riga numero")
    rotated = sorted(p.name for p in tmp_path.glob("torsiond.log.*"))
    assert rotated == ["torsiond.log.1", "torsiond.log.2"]
    for path in (log, tmp_path / "torsiond.log.1", tmp_path / "torsiond.log.2"):
        assertEveryLineStamped(path)
    newest = (tmp_path / "torsiond.log.1").read_text()
    os.kill(daemonPid(tmp_path), signal.SIGUSR1)
    # The current file moves to .1 and the old .1 to .2.
    waitForLog(tmp_path / "torsiond.log.2", re.escape(newest.splitlines()[-1]))
    assert echoes(port, b"dopo la rotazione\r\n") == b"dopo la rotazione\r\n"
    waitForLog(log, "dopo la rotazione")
    stopDaemon(tmp_path)


def test_umaskAndFileModes(runner: Runner, tmp_path: Path) -> None:
    echoTac(tmp_path)
    assert runner.torsiond("-y", "echo.tac").returncode == 0
    assert stat.S_IMODE(os.stat(tmp_path / "torsiond.log").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "torsiond.pid").st_mode) == 0o644
    stopDaemon(tmp_path)
    assert stat.S_IMODE(os.stat(tmp_path / "echo-shutdown.tap").st_mode) == 0o600
    (tmp_path / "torsiond.log").unlink()
    assert runner.torsiond("--umask", "022", "-o", "-y", "echo.tac").returncode == 0
    assert stat.S_IMODE(os.stat(tmp_path / "torsiond.log").st_mode) == 0o644
    stopDaemon(tmp_path)


def test_rundirIsWhereTheApplicationRunsAndSaves(runner: Runner, tmp_path: Path) -> None:
    echoTac(tmp_path)
    (tmp_path / "state").mkdir()
    assert runner.torsiond("-d", "state", "-y", "echo.tac").returncode == 0
    stopDaemon(tmp_path)
    assert (tmp_path / "state" / "echo-shutdown.tap").exists()
    assert (tmp_path / "torsiond.log").exists()
    done = runner.torsiond("-d", "nowhere", "-y", "echo.tac")
    assertOneLineError(done, "cannot change to the directory", "nowhere")


def test_explicitPidAndLogFiles(runner: Runner, tmp_path: Path) -> None:
    echoTac(tmp_path)
    done = runner.torsiond(
        "--pidfile", "run/echo.pid", "--logfile", "logs/echo.log", "-y", "echo.tac"
    )
    assertOneLineError(done, "cannot open the log file", "logs/echo.log")
    (tmp_path / "logs").mkdir()
    done = runner.torsiond("--pidfile", "run/echo.pid", "-l", "logs/echo.log", "-y", "echo.tac")
    assertOneLineError(done, "cannot write the pid file", "run/echo.pid")
    (tmp_path / "run").mkdir()
    done = runner.torsiond("--pidfile", "run/echo.pid", "-l", "logs/echo.log", "-y", "echo.tac")
    assert done.returncode == 0
    pid = int((tmp_path / "run" / "echo.pid").read_text())
    runner.daemons.append(pid)
    assert echoes(portFromLog(tmp_path / "logs" / "echo.log")) == b"hello, torsion\r\n"
    os.kill(pid, signal.SIGTERM)
    waitGone(pid)
    assert not (tmp_path / "run" / "echo.pid").exists()


# -- pid files ---------------------------------------------------------------------------


def test_aLivePidFileRefusesToStart(runner: Runner, tmp_path: Path) -> None:
    echoTac(tmp_path)
    (tmp_path / "torsiond.pid").write_text(f"{os.getpid()}\n")
    done = runner.torsiond("-y", "echo.tac")
    assertOneLineError(done, f"another server is running with pid {os.getpid()}", "torsiond.pid")
    assert (tmp_path / "torsiond.pid").read_text() == f"{os.getpid()}\n"
    assert not (tmp_path / "torsiond.log").exists()


def test_aStalePidFileIsRemoved(runner: Runner, tmp_path: Path) -> None:
    echoTac(tmp_path)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / "torsiond.pid").write_text(f"{gone.pid}\n")
    assert runner.torsiond("-o", "-y", "echo.tac").returncode == 0
    assert daemonPid(tmp_path) != gone.pid
    waitForLog(
        tmp_path / "torsiond.log",
        rf"\[-\] Removed the stale pid file .*torsiond\.pid \(pid {gone.pid}\)$",
    )
    stopDaemon(tmp_path)


def test_aPidFileOfGarbageRefusesToStart(runner: Runner, tmp_path: Path) -> None:
    echoTac(tmp_path)
    (tmp_path / "torsiond.pid").write_text("not a pid\n")
    assertOneLineError(runner.torsiond("-y", "echo.tac"), "holds b'not a pid', not a process id")


def test_twoServersWithOnePidFile(runner: Runner, tmp_path: Path) -> None:
    echoTac(tmp_path)
    assert runner.torsiond("-o", "-y", "echo.tac").returncode == 0
    done = runner.torsiond("-o", "-y", "echo.tac")
    assertOneLineError(done, f"another server is running with pid {daemonPid(tmp_path)}")
    stopDaemon(tmp_path)


# -- bad input: one line, non-zero status ------------------------------------------------


def test_tacWithASyntaxError(runner: Runner, tmp_path: Path) -> None:
    (tmp_path / "broken.tac").write_text("application = (\n")
    for args in (["-y", "broken.tac"], ["-n", "-y", "broken.tac"]):
        done = runner.torsiond(*args)
        assertOneLineError(done, "broken.tac, line 1", "never closed")
    assert not (tmp_path / "torsiond.pid").exists()
    assert "broken.tac, line 1" in (tmp_path / "torsiond.log").read_text()


def test_tacWithoutAnApplication(runner: Runner, tmp_path: Path) -> None:
    (tmp_path / "empty.tac").write_text("x = 1\n")
    assertOneLineError(
        runner.torsiond("-y", "empty.tac"),
        "empty.tac does not define 'application'",
        "application = service.Application(name)",
    )


def test_tacWhoseApplicationIsNotOne(runner: Runner, tmp_path: Path) -> None:
    (tmp_path / "odd.tac").write_text("application = 42\n")
    assertOneLineError(
        runner.torsiond("-y", "odd.tac"), "gives 42 as its application, which is not one"
    )


def test_tacThatRaises(runner: Runner, tmp_path: Path) -> None:
    (tmp_path / "raises.tac").write_text("x = 1\nundefinedName\n")
    done = runner.torsiond("-y", "raises.tac")
    assertOneLineError(done, "raises.tac, line 2: NameError")
    # The details are in the log, for whoever wants them.
    assert "Traceback" in (tmp_path / "torsiond.log").read_text()


def test_missingFiles(runner: Runner, tmp_path: Path) -> None:
    for flag in ("-y", "-f", "-s", "-x"):
        done = runner.torsiond(flag, "nothere.file")
        assertOneLineError(done, "cannot read", "nothere.file: No such file or directory")


def test_damagedTap(runner: Runner, tmp_path: Path) -> None:
    (tmp_path / "damaged.tap").write_bytes(b"\x80\x05 not really a pickle")
    assertOneLineError(runner.torsiond("-f", "damaged.tap"), "damaged.tap")


@pytest.mark.parametrize("daemon", [True, False], ids=["daemon", "nodaemon"])
def test_portAlreadyInUse(runner: Runner, tmp_path: Path, daemon: bool) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        echoTac(tmp_path, port)
        done = runner.torsiond(*([] if daemon else ["-n"]), "-y", "echo.tac")
    assertOneLineError(done, f"127.0.0.1:{port}", "in use")
    assert not (tmp_path / "torsiond.pid").exists()
    assert not (tmp_path / "echo-shutdown.tap").exists()


def test_startServiceFailing(runner: Runner, tmp_path: Path) -> None:
    (tmp_path / "failing.tac").write_text(
        "from torsion.application import service\n"
        "class Failing(service.Service):\n"
        "    def startService(self):\n"
        "        raise RuntimeError('the database is not there')\n"
        "application = service.Application('failing')\n"
        "Failing().setServiceParent(application)\n"
    )
    done = runner.torsiond("-y", "failing.tac")
    assertOneLineError(
        done, "starting the application failed: RuntimeError: the database is not there"
    )
    assert not (tmp_path / "torsiond.pid").exists()
    assert not (tmp_path / "failing-shutdown.tap").exists()


def test_daemonDyingSilently(runner: Runner, tmp_path: Path) -> None:
    (tmp_path / "exits.tac").write_text("import os\nos._exit(3)\n")
    done = runner.torsiond("-y", "exits.tac")
    assertOneLineError(
        done, "the daemon exited while starting, without saying why", str(tmp_path / "torsiond.log")
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--bogus"], "unknown option --bogus"),
        (["-y"], "option -y needs a value"),
        ([], "no application given: use -y FILE.tac"),
        (["nosuchplugin"], "unknown command: nosuchplugin"),
        (["-y", "a.tac", "-f", "b.tap"], "give one application, not several"),
        (["-y", "a.tac", "echo"], "give one application, not several"),
        (["-l", "-", "-y", "a.tac"], "--logfile - (stdout) needs --nodaemon"),
        (["--syslog", "-l", "x.log", "-y", "a.tac"], "give --syslog or --logfile, not both"),
        (["-r", "nosuch", "-y", "a.tac"], "unknown reactor 'nosuch'"),
        (["--umask", "999", "-y", "a.tac"], "invalid value '999' for --umask"),
        (["-u", "no-such-user-here", "-y", "a.tac"], "no user named 'no-such-user-here'"),
        (["echo", "--listen", "tcp:http"], "--listen 'tcp:http': bad port"),
        (["--rotate_length", "-5", "-y", "a.tac"], "a size cannot be negative"),
    ],
)
def test_badCommandLines(
    args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assertOneLineError(runInProcess(torsiond.run, args, capsys), fragment, status=2)


def test_aBadCommandLineFromTheShell(runner: Runner) -> None:
    assertOneLineError(runner.torsiond("-n", "--bogus"), "unknown option --bogus", status=2)


def test_versionAndHelp(tmp_path: Path) -> None:
    runner = Runner(tmp_path, cheapCrypto=False)  # python -m torsion.scripts.torsiond itself
    done = runner.torsiond("--version")
    assert (done.returncode, done.stdout) == (0, f"torsiond (torsion) {__version__}\n")
    done = runner.torsiond("--help")
    assert done.returncode == 0
    assert done.stdout.startswith("Usage: torsiond [options] [PLUGIN [plugin options]]\n")
    assert re.search(r"^  echo +An echo server", done.stdout, re.M)
    for option in ("--nodaemon", "--python=", "--pidfile=", "--no_save", "--reactor="):
        assert option in done.stdout
    done = runner.torsiond("echo", "--help")
    assert done.stdout.startswith("Usage: torsiond [options] echo [--listen DESCRIPTION]\n")
    done = runner.torsiond("--help-reactors")
    assert re.search(r"^    select +select\(2\)", done.stdout, re.M)


def test_theReadmesQuickStartServes(tmp_path: Path) -> None:
    """``.venv/bin/torsiond -n echo``: the echo plugin on 127.0.0.1:8007, in the foreground."""
    script = Path(sys.executable).parent / "torsiond"
    if not script.exists():
        pytest.skip("torsion is not installed in this Python's environment (pip install -e .)")
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", 8007))
        except OSError:
            pytest.skip("port 8007 of 127.0.0.1 is in use here")
    child = subprocess.Popen(
        [str(script), "-n", "echo"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert child.stdout is not None and child.stderr is not None
        reader = LineReader(child.stdout)
        reader.waitFor(r"\[-\] torsion\.tap\.echo\.EchoFactory starting on 8007$", 30)
        assert echoes(8007) == b"hello, torsion\r\n"
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=15) == 0
        assert child.stderr.read() == ""
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert (tmp_path / "echo-shutdown.tap").exists()


# -- privileges (root only) --------------------------------------------------------------


def _worldWritable(tmp_path: Path) -> Path:
    """A directory an unprivileged user can use (pytest's tmp_path is root's only)."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="torsiond-", dir="/tmp"))
    path.chmod(0o777)
    return path


@pytest.mark.skipif(os.getuid() != 0, reason="only root can switch users")
def test_switchesToTheUserAfterBindingALowPort(tmp_path: Path) -> None:
    import pwd

    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("this system has no user nobody")
    work = _worldWritable(tmp_path)
    runner = Runner(work)
    try:
        # The seed's port 7 (bound as root, before dropping to nobody), on 127.0.0.1.
        echoTac(work, 7)
        done = runner.torsiond("-u", "nobody", "-y", "echo.tac")
        if done.returncode != 0 and "in use" in done.stderr:
            pytest.skip("port 7 of 127.0.0.1 is in use here")
        assert done.returncode == 0, done.stderr
        pid = daemonPid(work)
        status = Path(f"/proc/{pid}/status").read_text()
        assert re.search(rf"^Uid:\t{nobody.pw_uid}\t{nobody.pw_uid}\t", status, re.M)
        assert re.search(rf"^Gid:\t{nobody.pw_gid}\t{nobody.pw_gid}\t", status, re.M)
        assert echoes(7) == b"hello, torsion\r\n"
        waitForLog(work / "torsiond.log", rf"Switched to uid {nobody.pw_uid}, gid")
        stopDaemon(work)
        assert (work / "echo-shutdown.tap").stat().st_uid == nobody.pw_uid
        assert not (work / "torsiond.pid").exists()
    finally:
        runner.cleanUp()
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to run torsiond as another user")
def test_anUnprivilegedUserCannotSwitch(tmp_path: Path) -> None:
    work = _worldWritable(tmp_path)
    try:
        echoTac(work)
        try:
            done = subprocess.run(
                [sys.executable, "-m", "torsion.scripts.torsiond", "-u", "0", "-y", "echo.tac"],
                cwd=work,
                capture_output=True,
                text=True,
                timeout=60,
                user="nobody",
                group="nogroup" if _groupExists("nogroup") else None,
                extra_groups=[],
                env={"TZ": "Europe/Rome", "PATH": os.environ.get("PATH", "")},
            )
        except PermissionError:
            pytest.skip(f"the user nobody may not run {sys.executable} here")
        if done.returncode != 0 and "torsiond:" not in done.stderr:
            pytest.skip(f"the user nobody cannot run torsion from here: {done.stderr[-200:]}")
        assertOneLineError(done, "cannot switch to uid 0", "only root can switch")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _groupExists(name: str) -> bool:
    import grp

    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


@pytest.mark.skipif(os.getuid() != 0, reason="only root can chroot")
def test_chroot(runner: Runner, tmp_path: Path) -> None:
    echoTac(tmp_path)
    jail = tmp_path / "jail"
    jail.mkdir()
    assert runner.torsiond("--chroot", "jail", "-y", "echo.tac").returncode == 0
    assert echoes(portFromLog(tmp_path / "torsiond.log")) == b"hello, torsion\r\n"
    stopDaemon(tmp_path)
    assert (jail / "echo-shutdown.tap").exists()
    assert not (tmp_path / "torsiond.pid").exists()


@pytest.mark.skipif(os.getuid() == 0, reason="root may chroot")
def test_chrootNeedsRoot(runner: Runner, tmp_path: Path) -> None:
    echoTac(tmp_path)
    (tmp_path / "jail").mkdir()
    done = runner.torsiond("--chroot", "jail", "-y", "echo.tac")
    assertOneLineError(done, "cannot chroot to", "only root can chroot")
