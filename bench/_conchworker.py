"""SSH servers with SFTP and the scp client for bench/conch.py: one side per server.

Run as ``python bench/_conchworker.py SIDE COMMAND ...``, where SIDE is one of ``SIDES``:

``check``
    Print one JSON line: ``{"ok": true, "versions": ...}`` if this side can serve
    here, else ``{"ok": false, "reason": ...}``.
``serve DIR``
    Serve SSH with the "sftp" subsystem on a free port of 127.0.0.1, print ``port N``
    and run until standard input closes. DIR holds what `prepare` wrote: the host key
    (``host_ed25519``, the same for every side), ``authorized_keys`` and the file
    tree ``srv/`` the transfers go to and come from. torsion is ``torsiond conch``'s
    own service (torsion.conch.tap's options and makeService, SFTP root ``srv/``,
    password login); twisted is Twisted Conch's SSHFactory with its
    FileTransferServer over Twisted's own unix SFTP server (password login, paths as
    the filesystem has them); openssh is Debian's sshd with its own configuration
    (public key login, ``internal-sftp``; sshd needs root).

``python bench/_conchworker.py client SIDE PORT SERVER_PID DIRECTION DIR`` runs
OpenSSH's scp (SFTP mode, ``-s``) once up (DIR/client/file.bin to the server's
``srv/up.bin``) or down (``srv/down.bin`` to DIR/client/down.bin), checks the
copy's sha256, and prints ``{"seconds", "bytes", "serverCpu"}`` (the server's CPU,
its children's included, from /proc at both ends).
Tests: tests/bench/test_conch_smoke.py (through bench/conch.py --quick).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import platform
import pwd
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, NamedTuple

PASSWORD = "bench-secret"
SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
SCP = shutil.which("scp")


class ConchSide(NamedTuple):
    """Which interpreter runs a side's server (bench/_sidebench.py reads framework)."""

    framework: str  # "torsion", "twisted" or "openssh"


SIDES: dict[str, ConchSide] = {
    "torsion": ConchSide("torsion"),
    "twisted": ConchSide("twisted"),
    "openssh": ConchSide("openssh"),
}


def user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- check -------------------------------------------------------------------------------


def opensshVersion() -> str:
    assert SSHD is not None
    done = subprocess.run([SSHD, "-V"], capture_output=True, text=True)
    return (done.stderr or done.stdout).strip().split(",")[0]


def describe(name: str) -> dict[str, Any]:
    versions = {"python": platform.python_version()}
    if name == "openssh":
        if SSHD is None:
            return {"ok": False, "reason": "OpenSSH's sshd (openssh-server) is missing"}
        if os.geteuid() != 0:
            return {"ok": False, "reason": "sshd runs only as root (privilege separation)"}
        version = opensshVersion()
        return {"ok": True, "versions": {"openssh": version}, "reactor": f"{version} sshd"}
    framework = importlib.import_module(name)
    importlib.import_module(f"{name}.conch.ssh.filetransfer")
    versions[name] = getattr(framework, "__version__", "?")
    versions["cryptography"] = importlib.import_module("cryptography").__version__
    reactor = importlib.import_module(f"{name}.internet.reactor")
    kind = f"{type(reactor).__module__}.{type(reactor).__name__}"
    return {"ok": True, "versions": versions, "reactor": kind}


def check(name: str) -> None:
    try:
        info = describe(name)
    except Exception as e:  # Any failure to import means: not available here.
        info = {"ok": False, "reason": f"{type(e).__name__}: {e}"}
    print(json.dumps(info), flush=True)


def exitWhenInputCloses(cleanup: Any = None) -> None:
    def wait() -> None:
        sys.stdin.read()
        if cleanup is not None:
            cleanup()
        os._exit(0)

    threading.Thread(target=wait, name="control", daemon=True).start()


# -- the servers ---------------------------------------------------------------------------


def serveTorsion(directory: Path) -> None:
    from torsion.conch import tap
    from torsion.internet import reactor

    port = freePort()
    options = tap.Options()
    options.parseOptions(
        [
            "--listen", f"tcp:{port}:interface=127.0.0.1", "--host-key",
            str(directory / "host_ed25519"), "--no-authorized-keys",
            "--auth", f"memory:{user()}:{PASSWORD}", "--sftp-root", str(directory / "srv"),
        ]
    )  # fmt: skip
    tap.makeService(options).startService()
    exitWhenInputCloses()
    print(f"port {port}", flush=True)
    reactor.run(installSignalHandlers=False)  # type: ignore[attr-defined]


def serveTwisted(directory: Path) -> None:
    from twisted.conch import unix
    from twisted.conch.avatar import ConchUser
    from twisted.conch.interfaces import IConchUser, ISFTPServer
    from twisted.conch.ssh import factory, keys
    from twisted.cred import checkers, portal
    from twisted.internet import reactor
    from twisted.python import components
    from twisted.python.filepath import FilePath
    from zope.interface import implementer

    class BenchUser(unix.UnixConchUser):  # type: ignore[misc]
        """Twisted's unix user and SFTP server; files as the server's own user."""

        def getHomeDir(self) -> Any:
            return FilePath(str(directory / "srv"))

        def _runAsUser(self, f: Any, *args: Any, **kw: Any) -> Any:
            # Twisted's takes one callable or a list of (callable, args, kwargs).
            if callable(f):
                return f(*args, **kw)
            result = None
            for call in f:
                result = call[0](*(call[1:2] or [()])[0], **(call[2:3] or [{}])[0])
            return result

    class BenchFile(unix.UnixSFTPFile):  # type: ignore[misc]
        """Twisted's file, with the fsetstat that scp sends (Twisted refuses it)."""

        def __init__(self, server: Any, filename: str, flags: int, attrs: Any) -> None:
            super().__init__(server, filename, flags, attrs)
            self.filename = filename

        def setAttrs(self, attrs: Any) -> None:
            self.server._setAttrs(self.filename, attrs)

    class BenchSFTPServer(unix.SFTPServerForUnixConchUser):  # type: ignore[misc]
        def openFile(self, filename: bytes, flags: int, attrs: Any) -> Any:
            return BenchFile(self, self._absPath(filename), flags, attrs)

    components.registerAdapter(BenchSFTPServer, BenchUser, ISFTPServer)

    @implementer(portal.IRealm)
    class Realm:
        def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
            assert IConchUser in interfaces
            avatar: ConchUser = BenchUser(avatarId.decode())
            return IConchUser, avatar, lambda: None

    hostKey = keys.Key.fromFile(str(directory / "host_ed25519"))
    made = factory.SSHFactory()
    made.privateKeys = {hostKey.sshType(): hostKey}
    made.publicKeys = {hostKey.sshType(): hostKey.public()}
    database = checkers.InMemoryUsernamePasswordDatabaseDontUse()
    database.addUser(user().encode(), PASSWORD.encode())
    made.portal = portal.Portal(Realm(), [database])
    made.noisy = False
    listening = reactor.listenTCP(0, made, interface="127.0.0.1")
    exitWhenInputCloses()
    print(f"port {listening.getHost().port}", flush=True)
    reactor.run(installSignalHandlers=False)


def serveOpenSSH(directory: Path) -> None:
    assert SSHD is not None
    port = freePort()
    config = directory / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {directory / 'host_ed25519'}\n"
        f"AuthorizedKeysFile {directory / 'authorized_keys'}\nPidFile none\nUsePAM no\n"
        "StrictModes no\nPasswordAuthentication no\nPermitRootLogin prohibit-password\n"
        "Subsystem sftp internal-sftp\nLogLevel ERROR\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    sshd = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)])
    for _ in range(100):
        try:
            # A whole version exchange, so that sshd logs nothing at level ERROR.
            with socket.create_connection(("127.0.0.1", port), timeout=5) as probe:
                probe.sendall(b"SSH-2.0-probe\r\n")
                probe.recv(256)
            break
        except OSError:
            if sshd.poll() is not None:
                raise SystemExit(f"sshd exited with status {sshd.returncode}") from None
            time.sleep(0.05)
    exitWhenInputCloses(sshd.terminate)
    print(f"port {port}", flush=True)
    sshd.wait()


SERVE = {"torsion": serveTorsion, "twisted": serveTwisted, "openssh": serveOpenSSH}


# -- the client ----------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def treeCpu(pid: int) -> tuple[float, int]:
    """CPU seconds of ``pid`` and its descendants (reaped children included) and how
    many processes the tree has."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            kids = [int(kid) for kid in children.read().split()]
    except OSError:
        return 0.0, 0
    total, count = sum(int(value) for value in fields[11:15]) / _TICKS, 1
    for kid in kids:
        cpu, n = treeCpu(kid)
        total, count = total + cpu, count + n
    return total, count


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def checkCopy(original: Path, copy: Path) -> None:
    """Refuse a copy that is missing or whose sha256 differs from the original's."""
    if not copy.exists():
        raise SystemExit(f"scp left no {copy}")
    if sha256(copy) != sha256(original):
        raise SystemExit(f"the copy {copy} differs from {original} (sha256)")


def remotePath(side: str, directory: Path, name: str) -> str:
    """torsion's SFTP root is srv/ itself; the others see the whole filesystem."""
    return f"/{name}" if side == "torsion" else str(directory / "srv" / name)


# The algorithms scp asks for (bench/conch.py --algorithms): OpenSSH's own defaults, or
# the fastest suite each server has. OpenSSH's first choice, chacha20-poly1305, is what
# torsion and sshd get by default; AES-GCM (one call per packet, AES-NI) is faster for
# both ends. Twisted has neither: aes128-ctr with hmac-sha2-256, its fastest, is what it
# negotiates either way.
ALGORITHMS: dict[str, dict[str, list[str]]] = {
    "default": {},
    "fastest": {
        "torsion": ["-c", "aes128-gcm@openssh.com"],
        "openssh": ["-c", "aes128-gcm@openssh.com"],
        "twisted": ["-c", "aes128-ctr", "-o", "MACs=hmac-sha2-256"],
    },
}


def client(
    side: str, port: int, serverPid: int, direction: str, directory: Path, algorithms: str
) -> int:
    assert SCP is not None
    local = directory / "client"
    if direction == "up":
        source, target = (
            str(local / "file.bin"),
            f"{user()}@127.0.0.1:" + remotePath(side, directory, "up.bin"),
        )
        original, copy = local / "file.bin", directory / "srv" / "up.bin"
    else:
        source = f"{user()}@127.0.0.1:" + remotePath(side, directory, "down.bin")
        target = str(local / "down.bin")
        original, copy = directory / "srv" / "down.bin", local / "down.bin"
    copy.unlink(missing_ok=True)
    askpass = directory / "askpass"
    command = [
        SCP, "-s", "-q", "-F", "/dev/null", "-P", str(port), "-i", str(directory / "client_key"),
        "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "NumberOfPasswordPrompts=1",
        "-o", "LogLevel=ERROR", *ALGORITHMS[algorithms].get(side, []), source, target,
    ]  # fmt: skip
    environment = dict(
        os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0"
    )
    cpuBefore, processes = treeCpu(serverPid)
    started = time.perf_counter()
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    # sshd's per-connection processes count once the listener has reaped them.
    deadline = time.monotonic() + 5
    while treeCpu(serverPid)[1] > processes and time.monotonic() < deadline:
        time.sleep(0.02)
    cpuAfter, _ = treeCpu(serverPid)
    # Twisted sends no exit-status at the end of a subsystem, so scp exits with 1 and
    # says nothing; the sha256 below is what decides.
    if done.returncode and done.stderr.strip():
        raise SystemExit(f"scp failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    checkCopy(original, copy)
    size = copy.stat().st_size
    copy.unlink()
    result = {"seconds": seconds, "bytes": size, "serverCpu": cpuAfter - cpuBefore}
    print(json.dumps(result), flush=True)
    return 0


def main() -> int:
    usage = (
        f"usage: {sys.argv[0]} SIDE check | SIDE serve DIR | client SIDE PORT SERVER_PID "
        f"up|down DIR [{'|'.join(ALGORITHMS)}]; SIDE is one of {', '.join(SIDES)}"
    )
    if len(sys.argv) in (7, 8) and sys.argv[1] == "client" and sys.argv[5] in ("up", "down"):
        side, port, pid, direction, directory = sys.argv[2:7]
        algorithms = sys.argv[7] if len(sys.argv) == 8 else "default"
        return client(side, int(port), int(pid), direction, Path(directory), algorithms)
    if len(sys.argv) < 3 or sys.argv[1] not in SIDES:
        raise SystemExit(usage)
    name, command = sys.argv[1], sys.argv[2]
    if command == "check":
        check(name)
    elif command == "serve" and len(sys.argv) == 4:
        SERVE[name](Path(sys.argv[3]))
    else:
        raise SystemExit(usage)
    return 0


if __name__ == "__main__":
    sys.exit(main())
