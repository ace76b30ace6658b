"""The GUI toolkits' reactors as their users meet them: installed as the global reactor,
``reactor.run()`` running the toolkit's loop, the toolkit's own events and torsion's
interleaved in one thread, Ctrl-C, the toolkit's loop run by the program itself, and
``tksupport`` pumping Tk from another reactor.

Everything a reactor must do (TCP, UDP, timers, threads, processes...) is the
conformance suite's, which runs on these reactors too (tests/internet/reactormixins.py).
The programs run in child processes because a global reactor is installed once per
process; each child is bounded by a timeout.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.internet import _display, reactormixins
from tests.internet.reactormixins import runUntil
from torsion.internet.epollreactor import EPollReactor

ROOT = Path(__file__).resolve().parents[2]

try:
    import PySide6  # noqa: F401
except ImportError:
    HAVE_QT = False
else:
    HAVE_QT = True

needsQt = pytest.mark.skipif(not HAVE_QT, reason="PySide6 is not installed (the qt extra)")
needsDisplay = pytest.mark.skipif(not _display.display(), reason=_display.reason())


@pytest.fixture(autouse=True)
def collectHere() -> Iterator[None]:
    """Free what a test left of Tk in this thread: Tcl aborts the process when Tk is
    freed by a collection that happens to run in another thread (a later test's peer)."""
    yield
    gc.collect()


def program(*parts: str) -> str:
    """The program made of ``parts``, each indented as it likes."""
    return "\n".join(textwrap.dedent(part) for part in parts)


def runProgram(*parts: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the program of ``parts`` in a fresh interpreter; return what it did."""
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-c", program(*parts)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=environment,
    )


# An echo server and a client of it, both on the installed reactor: a torsion program
# that a GUI's callback starts, and whose answer the GUI shows.
ECHO_EXCHANGE = """
from torsion.internet import reactor
from torsion.internet.protocol import ClientFactory, Factory, Protocol

class Echo(Protocol):
    def dataReceived(self, data):
        self.transport.write(data)

class Asker(Protocol):
    def connectionMade(self):
        self.transport.write(b"hello through the GUI loop")
    def dataReceived(self, data):
        answered(data)
        self.transport.loseConnection()

def exchange():
    port = reactor.listenTCP(0, Factory.forProtocol(Echo), interface="127.0.0.1")
    factory = ClientFactory.forProtocol(Asker)
    reactor.connectTCP("127.0.0.1", port.getHost().port, factory)
"""


@needsQt
def test_qtReactorRunsQtsLoopWithTorsionAndQtEventsInterleaved() -> None:
    done = runProgram(
        """
        import sys
        from PySide6.QtCore import QCoreApplication, QTimer
        app = QCoreApplication(sys.argv)
        from torsion.internet import qtreactor
        qtreactor.install(app)
        """,
        ECHO_EXCHANGE,
        """
        seen = []
        def answered(data):
            seen.append(data)
            # A Qt timer started from a torsion callback, and torsion's from Qt's.
            QTimer.singleShot(10, lambda: reactor.callLater(0.01, reactor.stop))
        reactor.callWhenRunning(lambda: QTimer.singleShot(0, exchange))
        reactor.run()
        print(type(reactor).__name__, seen)
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "QtReactor [b'hello through the GUI loop']"


@needsQt
def test_qtApplicationRunningItsOwnLoopAfterRunReturn() -> None:
    done = runProgram(
        """
        import sys
        from PySide6.QtCore import QCoreApplication
        app = QCoreApplication(sys.argv)
        from torsion.internet import qtreactor
        qtreactor.install(app)
        """,
        ECHO_EXCHANGE,
        """
        def answered(data):
            print(data.decode())
            app.quit()
        shutdown = []
        reactor.addSystemEventTrigger("before", "shutdown", lambda: shutdown.append(1))
        reactor.callWhenRunning(exchange)
        reactor.runReturn()
        status = app.exec()
        print("exec returned", status, "running", reactor.running)
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == [
        "hello through the GUI loop",
        "exec returned 0 running True",
    ]


@needsQt
def test_qtReactorRunInsideARunningLoopIsRefused() -> None:
    done = runProgram(
        """
        import sys
        from PySide6.QtCore import QCoreApplication, QTimer
        app = QCoreApplication(sys.argv)
        from torsion.internet import qtreactor, error
        reactor = qtreactor.install(app)
        def inside():
            try:
                reactor.run()
            except error.ReactorAlreadyRunning as e:
                print("refused:", e)
            app.quit()
        QTimer.singleShot(0, inside)
        app.exec()
        """
    )
    assert done.returncode == 0, done.stderr
    assert "refused: this reactor's event loop is already running" in done.stdout


@needsQt
def test_qtReactorWithoutPySide6SaysWhatToInstall() -> None:
    done = runProgram(
        """
        import sys
        sys.modules["PySide6"] = sys.modules["PySide6.QtCore"] = None
        try:
            from torsion.internet import qtreactor
        except ImportError as e:
            print(e)
        """
    )
    assert "pip install 'torsion[qt]'" in done.stdout


PRINT_WHEN_RUNNING_AND_WAIT = """
reactor.addSystemEventTrigger("before", "shutdown", lambda: print("shutting down", flush=True))
reactor.callWhenRunning(lambda: print("running", flush=True))
reactor.run()
print("stopped", flush=True)
"""


def interruptedProgram(source: str) -> str:
    """Start ``source``, send it SIGINT once it runs, and return what it printed."""
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    process = subprocess.Popen(
        [sys.executable, "-c", program(source, PRINT_WHEN_RUNNING_AND_WAIT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env=environment,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first == "running\n", first + process.stdout.read()
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
        # Promptly: Python's handler ran as soon as the signal arrived, not at the
        # toolkit's next event of its own.
        assert time.monotonic() - started < 5
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 0, rest
    return rest


@needsQt
def test_ctrlCStopsTheQtReactor() -> None:
    rest = interruptedProgram(
        """
        from torsion.internet import qtreactor
        reactor = qtreactor.install()
        """
    )
    assert rest == "shutting down\nstopped\n"


# -- Tk ----------------------------------------------------------------------------------


@needsDisplay
def test_tkReactorRunsTkWithAButtonStartingAConnection() -> None:
    done = runProgram(
        """
        import tkinter
        root = tkinter.Tk()
        from torsion.internet import tkreactor
        tkreactor.install(root)
        """,
        ECHO_EXCHANGE,
        """
        label = tkinter.Label(root, text="waiting")
        label.pack()
        button = tkinter.Button(root, text="Ask", command=exchange)
        button.pack()
        def answered(data):
            label.configure(text=data.decode())
            reactor.callLater(0.01, reactor.stop)
        reactor.callWhenRunning(lambda: root.after(0, button.invoke))
        reactor.run()
        print(type(reactor).__name__, label.cget("text"))
        """,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "TkReactor hello through the GUI loop"


@needsDisplay
def test_closingTheTkWindowStopsTheReactor() -> None:
    done = runProgram(
        """
        import tkinter
        root = tkinter.Tk()
        from torsion.internet import tkreactor
        reactor = tkreactor.install(root)
        reactor.callLater(0.05, root.destroy)
        reactor.callLater(20, lambda: print("still running"))
        reactor.run()
        print("ended, running:", reactor.running)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ended, running: False"


@needsDisplay
def test_ctrlCStopsTheTkReactor() -> None:
    rest = interruptedProgram(
        """
        from torsion.internet import tkreactor
        reactor = tkreactor.install()
        """
    )
    assert rest == "shutting down\nstopped\n"


@needsDisplay
def test_tksupportPumpsTkFromAnotherReactor() -> None:
    import tkinter

    from torsion.internet import tksupport

    reactor = EPollReactor()
    root = tkinter.Tk()
    root.withdraw()
    clicks: list[str] = []
    try:
        root.after(0, lambda: clicks.append("Tk ran"))
        tksupport.install(root, ms=5, reactor=reactor)
        with pytest.raises(RuntimeError, match="installed already"):
            tksupport.install(root, reactor=reactor)
        runUntil(reactor, lambda: clicks, timeout=5)
        tksupport.uninstall()
        tksupport.uninstall()  # A second uninstall is harmless.
        assert reactor.getDelayedCalls() == []
    finally:
        tksupport.uninstall()
        root.destroy()
        reactormixins.closeReactor(reactor)


@needsDisplay
def test_tksupportStopsTheReactorWhenTheWindowCloses() -> None:
    done = runProgram(
        """
        import tkinter
        from torsion.internet import reactor, tksupport
        root = tkinter.Tk()
        tksupport.install(root)
        reactor.callLater(0.1, root.destroy)
        reactor.callLater(20, lambda: print("still running"))
        reactor.run()
        print("ended with the window")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ended with the window"
