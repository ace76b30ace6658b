"""Helpers for running torsiond and torsion as a user would: child processes, real files.

``Runner`` runs ``python -m torsion.scripts.torsiond`` (or ``torsion``) in a directory
with a clean environment (no TORSION_* variables, the seed's time zone), remembers
every daemon it started and kills any still alive when the test ends. Waits are
bounded: ``waitForLog`` polls a log file, ``waitGone`` a process.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from torsion.scripts._torsiond_unix import _processExists

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

# The seed's time stamp, "2004/04/24 17:08 CEST", in the seed's zone (CET in winter).
STAMP = r"\d{4}/\d\d/\d\d \d\d:\d\d CES?T"


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TORSION_", "LISTEN_"))}
    env["TZ"] = "Europe/Rome"
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


# Runs a module like ``python -m``, but with encryption keys derived with scrypt n=2**10
# instead of 2**17, to keep the suite quick (the cost is read back from each file, so
# decrypting takes the same path either way).
CHEAP = (
    "import runpy, sys; from torsion.persisted import _crypto; _crypto.SCRYPT_LOG2N = 10;"
    " module = sys.argv.pop(1); sys.argv[0] = module.rsplit('.', 1)[1];"
    " runpy.run_module(module, run_name='__main__', alter_sys=True)"
)


class Runner:
    """Runs torsion's commands in ``directory`` and cleans up the daemons they leave.

    Args:
        cheapCrypto: derive the keys of encrypted files cheaply (see CHEAP).
    """

    def __init__(self, directory: Path, cheapCrypto: bool = True) -> None:
        self.directory = directory
        self.daemons: list[int] = []
        self.cheapCrypto = cheapCrypto

    def run(
        self,
        module: str,
        *args: str,
        cwd: Path | None = None,
        timeout: float = 60,
        **env: str,
    ) -> subprocess.CompletedProcess[str]:
        command = ["-c", CHEAP, module] if self.cheapCrypto else ["-m", module]
        return subprocess.run(
            [sys.executable, *command, *args],
            cwd=cwd or self.directory,
            env=environment(**env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,  # no terminal: passphrases only from the environment
        )

    def torsiond(self, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        """Run torsiond; if it daemonized, remember the daemon's pid from the pid file."""
        done = self.run("torsion.scripts.torsiond", *args, **kw)  # type: ignore[arg-type]
        pidfile = self._pidfile(args, kw.get("cwd"))  # type: ignore[arg-type]
        daemonized = done.returncode == 0 and "-n" not in args
        if daemonized and pidfile is not None and pidfile.exists():
            self.daemons.append(int(pidfile.read_text()))
        return done

    def torsion(self, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return self.run("torsion.scripts.torsion", *args, **kw)  # type: ignore[arg-type]

    def popen(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """Start torsiond (in the foreground, presumably) with its stdout and stderr piped."""
        child = subprocess.Popen(
            [sys.executable, "-m", "torsion.scripts.torsiond", *args],
            cwd=self.directory,
            env=environment(PYTHONUNBUFFERED="1", **env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.daemons.append(child.pid)
        return child

    def _pidfile(self, args: tuple[str, ...], cwd: Path | None) -> Path | None:
        base = cwd or self.directory
        for i, arg in enumerate(args):
            if arg.startswith("--pidfile="):
                value = arg.split("=", 1)[1]
                return (base / value) if value else None
            if arg == "--pidfile" and i + 1 < len(args):
                return (base / args[i + 1]) if args[i + 1] else None
        return base / "torsiond.pid"

    def cleanUp(self) -> None:
        for pid in self.daemons:
            if _processExists(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            waitGone(pid, 5)


def waitGone(pid: int, timeout: float = 15) -> None:
    """Wait until process ``pid`` has exited (a zombie counts as exited)."""
    deadline = time.monotonic() + timeout
    while _processExists(pid):
        if time.monotonic() > deadline:
            raise AssertionError(f"process {pid} still runs after {timeout} s")
        time.sleep(0.02)


def waitForLog(path: Path, pattern: str, timeout: float = 15, after: int = 0) -> re.Match[str]:
    """Wait for a line of the log at ``path`` matching ``pattern`` (from ``after`` on)."""
    deadline = time.monotonic() + timeout
    regex = re.compile(pattern, re.MULTILINE)
    text = ""
    while time.monotonic() < deadline:
        try:
            text = path.read_text(encoding="utf-8")[after:]
        except FileNotFoundError:
            text = ""
        found = regex.search(text)
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"no line matching {pattern!r} in {path}:\n{text}")


def portFromLog(path: Path, after: int = 0) -> int:
    """The port of the last "... starting on N" line of the log (from ``after`` on)."""
    waitForLog(path, r"starting on \d+$", after=after)
    text = path.read_text(encoding="utf-8")[after:]
    return int(re.findall(r"starting on (\d+)$", text, re.MULTILINE)[-1])


def echoes(port: int, data: bytes = b"hello, torsion\r\n") -> bytes:
    """Send ``data`` to 127.0.0.1:``port`` and return what comes back (as much as sent)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        received = b""
        while len(received) < len(data):
            chunk = s.recv(4096)
            if not chunk:
                break
            received += chunk
    return received


def copyTac(source: Path, target: Path, old: str, new: str) -> Path:
    """Copy an example .tac to ``target`` with the one call ``old`` replaced by ``new``.

    The examples keep the seed's words, with ports 7 and 7777 of every interface (7
    needs root, 7777 may be taken); the tests' copies listen on a free port of
    127.0.0.1 and differ in that call only.
    """
    text = source.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{source} no longer has {old!r}"
    target.write_text(text.replace(old, new), encoding="utf-8")
    return target


def runInProcess(
    run: Callable[[list[str]], int], args: list[str], capsys: pytest.CaptureFixture[str]
) -> subprocess.CompletedProcess[str]:
    """Call a command's ``run(argv)`` here, for checks that end before anything starts
    (usage errors): much quicker than a child process, and the same code."""
    status = run(args)
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, captured.out, captured.err)


def assertOneLineError(
    done: subprocess.CompletedProcess[str],
    *fragments: str,
    status: int = 1,
    program: str = "torsiond",
) -> str:
    """Check that a command failed with one line on stderr containing ``fragments``."""
    assert done.returncode == status, done
    assert "Traceback" not in done.stderr
    assert "Traceback" not in done.stdout
    lines = done.stderr.splitlines()
    if status == 2:
        assert len(lines) == 2 and lines[1].endswith("--help' for help"), done.stderr
    else:
        assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"{program}: "), done.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]
