"""torsiond on POSIX: the pid file, becoming a daemon, dropping privileges, and the run itself.

``UnixApplicationRunner(options).run()`` does, in order: check the pid file (refusing
to start if its process is alive, removing it if stale), get the passphrase, become a
daemon (double fork and setsid; the first process waits on a pipe until the daemon
says the application has started, or why it could not), set the umask, install the
reactor, start the log, write the pid file, load the application, chroot and change to
the run directory, ``privilegedStartService`` (binding ports), switch to the user and
group, and run the reactor, which starts the application. At SIGTERM or SIGINT the
reactor stops the application, saves it as NAME-shutdown.tap, and the pid file is
removed.

Every failure the user can cause is one line on stderr (from the waiting first process
in daemon mode) and exit status 1; the details, tracebacks included, are in the log.
Tests: tests/scripts/test_torsiond.py (subprocesses) and tests/scripts/test_torsiond_unix.py.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import IO, Any

from torsion.application import app, service
from torsion.logger import Logger
from torsion.python.util import switchUID
from torsion.scripts._passphrase import PASSPHRASE_VARIABLE, PassphraseError, askPassphrase

__all__ = ["PidFile", "UnixApplicationRunner", "checkPID", "daemonize"]

_log = Logger(namespace="torsiond")

PROGRAM = "torsiond"


def _processExists(pid: int) -> bool:
    """Tell whether process ``pid`` exists (a zombie, waiting to be reaped, does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # It exists, as another user's process.
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != b"Z"


def checkPID(pidfile: str) -> None:
    """Refuse to start if ``pidfile`` names a running process; remove it if it is stale.

    Raises:
        app.StartupError: the process is running, or the file holds no process id, or
            it cannot be read or removed.
    """
    if not pidfile:
        return
    try:
        with open(pidfile, "rb") as f:
            text = f.read(64).strip()
    except FileNotFoundError:
        return
    except OSError as e:
        raise app.StartupError(f"cannot read the pid file {pidfile}: {e.strerror}") from None
    try:
        pid = int(text)
    except ValueError:
        raise app.StartupError(
            f"the pid file {pidfile} holds {text[:40]!r}, not a process id; remove it if no "
            "torsiond runs from it"
        ) from None
    if pid > 0 and pid != os.getpid() and _processExists(pid):
        raise app.StartupError(
            f"another server is running with pid {pid} (from the pid file {pidfile}); stop it, "
            "or use another --pidfile"
        )
    try:
        os.unlink(pidfile)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise app.StartupError(
            f"cannot remove the stale pid file {pidfile}: {e.strerror}"
        ) from None
    _log.info("Removed the stale pid file {pidfile} (pid {pid})", pidfile=pidfile, pid=pid)


class PidFile:
    """The pid file this process wrote, removed at exit even after a chroot or a chdir.

    The directory is held open from the start, so that removing the file works by the
    directory's descriptor wherever the process's root and working directory are by
    then. Only bytes are read and written: after dropping privileges, Python may be
    unable to import even a text codec.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._name = os.path.basename(path)
        self._directory: int | None = None

    def write(self) -> None:
        """Write this process's id to the file.

        Raises:
            app.StartupError: the file cannot be written.
        """
        try:
            self._directory = os.open(os.path.dirname(self.path) or ".", os.O_RDONLY)
            fd = os.open(
                self._name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=self._directory
            )
            try:
                os.fchmod(fd, 0o644)  # Readable by all, whatever the umask, as pid files are.
                os.write(fd, b"%d\n" % os.getpid())
            finally:
                os.close(fd)
        except OSError as e:
            raise app.StartupError(f"cannot write the pid file {self.path}: {e.strerror}") from None

    def remove(self) -> None:
        """Remove the file if it still holds this process's id; log why if that fails."""
        if self._directory is None:
            return
        try:
            fd = os.open(self._name, os.O_RDONLY, dir_fd=self._directory)
            try:
                held = os.read(fd, 64).strip()
            finally:
                os.close(fd)
            if held == b"%d" % os.getpid():
                os.unlink(self._name, dir_fd=self._directory)
        except FileNotFoundError:
            pass
        except OSError as e:
            _log.warn(
                "Could not remove the pid file {pidfile}: {error}",
                pidfile=self.path,
                error=e.strerror,
            )
        finally:
            os.close(self._directory)
            self._directory = None


class _StartupReport:
    """How the daemon tells the waiting first process that it started, or why not.

    One message on a pipe: ``started``, or ``error`` and the one-line message. Without a
    pipe (``--nodaemon``) an error is written to ``stderr`` instead.
    """

    def __init__(self, fd: int | None, stderr: IO[str]) -> None:
        self._fd = fd
        self._stderr = stderr
        self.sent = False

    def started(self) -> None:
        self._send(b"started\n")

    def failed(self, message: str) -> None:
        message = " ".join(message.split())
        if self._fd is None:
            if not self.sent:
                print(f"{PROGRAM}: error: {message}", file=self._stderr, flush=True)
            self.sent = True
            return
        self._send(b"error " + message.encode("utf-8", "replace") + b"\n")

    def _send(self, data: bytes) -> None:
        if self.sent:
            return
        self.sent = True
        if self._fd is None:
            return
        try:
            os.write(self._fd, data)
            os.close(self._fd)
        except OSError:
            pass  # The first process is gone; there is no one left to tell.
        self._fd = None


def daemonize(stderr: IO[str], logDescription: str) -> _StartupReport | int:
    """Become a daemon: return the report to make in the daemon, or an exit status here.

    The calling process forks and waits; the child starts a new session and forks
    again, and the grandchild (no terminal, no session leader, stdin, stdout and
    stderr on /dev/null) is the daemon, which gets a ``_StartupReport`` on a pipe to
    the waiting process. That one returns 0 once the daemon reports "started", else
    prints the daemon's error (or that it died saying nothing) and returns 1.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    readEnd, writeEnd = os.pipe()
    first = os.fork()
    if first:
        os.close(writeEnd)
        return _waitForDaemon(readEnd, first, stderr, logDescription)
    try:
        os.close(readEnd)
        os.setsid()
        if os.fork():
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        if null > 2:
            os.close(null)
    except BaseException:
        os._exit(1)
    return _StartupReport(writeEnd, stderr)


def _waitForDaemon(readEnd: int, child: int, stderr: IO[str], logDescription: str) -> int:
    message = bytearray()
    try:
        while chunk := os.read(readEnd, 4096):
            message.extend(chunk)
            if len(message) > 65536:
                break
    except KeyboardInterrupt:
        print(
            f"{PROGRAM}: interrupted while the daemon was starting; it may still be running",
            file=stderr,
        )
        return 1
    finally:
        os.close(readEnd)
        try:
            os.waitpid(child, 0)
        except ChildProcessError:
            pass
    text = message.decode("utf-8", "replace").strip()
    if text == "started":
        return 0
    if text.startswith("error "):
        print(f"{PROGRAM}: error: {text[6:]}", file=stderr)
    else:
        print(
            f"{PROGRAM}: error: the daemon exited while starting, without saying why; "
            f"see {logDescription}",
            file=stderr,
        )
    return 1


class UnixApplicationRunner:
    """Runs the application ``options`` describe, the POSIX way; ``run()`` gives the status.

    Args:
        options: the parsed app.ServerOptions.
        stderr: where one-line errors go in the foreground (the real stderr).
    """

    def __init__(self, options: app.ServerOptions, stderr: IO[str] | None = None) -> None:
        self.config = options
        self.stderr = stderr if stderr is not None else sys.stderr
        self.logger = app.AppLogger(options, stdout=sys.stdout)
        self.application: Any = None
        self.passphrase: str | None = None
        self._report = _StartupReport(None, self.stderr)
        self._logging = False
        self._pidfile: PidFile | None = None
        self._waited = False
        self.exitCode = 0

    def run(self) -> int:
        """Run until the reactor stops; return the exit status (0, or 1 on failure)."""
        try:
            checkPID(self.config["pidfile"])
            self.passphrase = self._getPassphrase()
            if not self.config["nodaemon"]:
                daemon = daemonize(self.stderr, self.logger.describe())
                if isinstance(daemon, int):
                    self._waited = True
                    return daemon
                self._report = daemon
            self._runInThisProcess()
        except (app.StartupError, app.NoSuchReactor) as e:
            self._fail(str(e))
        except Exception as e:
            if self._logging:
                _log.failure("torsiond failed unexpectedly")
                self._fail(
                    f"unexpected {type(e).__name__}: {e} (the traceback is in "
                    f"{self.logger.describe()})"
                )
            else:
                raise
        finally:
            self._cleanUp()
        return self.exitCode

    def _fail(self, message: str) -> None:
        self.exitCode = 1
        if self._logging:
            _log.error("{program}: error: {message}", program=PROGRAM, message=message)
        self._report.failed(message)

    def _getPassphrase(self) -> str | None:
        if not self.config["encrypted"]:
            return None
        found = self.config.applicationFile()
        name = found[0] if found else "the application"
        try:
            return askPassphrase([PASSPHRASE_VARIABLE], f"Passphrase for {name}: ", False)
        except PassphraseError as e:
            raise app.StartupError(str(e)) from None

    def _runInThisProcess(self) -> None:
        umask = self.config["umask"]
        if umask is None and not self.config["nodaemon"]:
            umask = 0o077
        if umask is not None:
            os.umask(umask)
        app.installReactor(self.config["reactor"])
        self.logger.start()
        self._logging = True
        self.logger.logReactor()
        if self.config["pidfile"]:
            self._pidfile = PidFile(self.config["pidfile"])
            self._pidfile.write()
        self.application = app.getApplication(self.config, self.passphrase)
        self._setupEnvironment()
        self._privilegedStart()
        self._shedPrivileges()
        self._runReactor()

    def _setupEnvironment(self) -> None:
        chroot = self.config["chroot"]
        if chroot is not None:
            try:
                os.chroot(chroot)
                os.chdir("/")
            except OSError as e:
                hint = "; only root can chroot" if e.errno == errno.EPERM else ""
                raise app.StartupError(f"cannot chroot to {chroot}: {e.strerror}{hint}") from None
        rundir = self.config["rundir"]
        try:
            os.chdir(rundir)
        except OSError as e:
            raise app.StartupError(
                f"cannot change to the directory {rundir}: {e.strerror}"
            ) from None

    def _privilegedStart(self) -> None:
        try:
            service.IService(self.application).privilegedStartService()
        except Exception as e:
            if type(e).__name__ != "CannotListenError":
                _log.failure("Starting the application failed")
            raise app.StartupError(app._oneLine(e)) from None

    def _shedPrivileges(self) -> None:
        process = service.IProcess(self.application, None)
        uid = self.config["uid"]
        gid = self.config["gid"]
        if uid is None and process is not None:
            uid = process.uid
        if gid is None and process is not None:
            gid = process.gid
        if uid is None and gid is None:
            return
        try:
            switchUID(uid, gid)
        except OSError as e:
            raise app.StartupError(
                f"cannot switch to uid {uid}, gid {gid}: {e.strerror}; only root can switch "
                "to another user or group (run torsiond as root, or leave out -u and -g)"
            ) from None
        _log.info("Switched to uid {uid}, gid {gid}", uid=os.getuid(), gid=os.getgid())

    def _runReactor(self) -> None:
        reactor = app.globalReactor()

        def failed(message: str) -> None:
            self.exitCode = 1
            self._fail(message)

        app.startApplication(
            self.application,
            save=not self.config["no_save"],
            passphrase=self.passphrase,
            onStarted=self._report.started,
            onFailed=failed,
        )
        reactor.run()
        _log.info("Main loop terminated.")

    def _cleanUp(self) -> None:
        if self._waited:
            return  # The first process, which waited for the daemon: nothing of its own.
        try:
            if self._pidfile is not None:
                self._pidfile.remove()
            if self._logging:
                self._logging = False
                self.logger.stop()
        finally:
            if not self._report.sent:
                self._report.failed(
                    f"the application stopped before it started; see {self.logger.describe()}"
                )
