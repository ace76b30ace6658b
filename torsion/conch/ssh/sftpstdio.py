"""Serve one directory over SFTP on stdin/stdout, without SSH: the program that
OpenSSH's ``sftp -D "python -m torsion.conch.ssh.sftpstdio ROOT"`` runs, and what an
sshd's "Subsystem sftp" line may name. Blocking and reactor-free because the
filesystem server answers synchronously. Tests: tests/conch/test_sftp.py, test_sftp_client.py.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from zope.interface import implementer

from torsion.conch.ssh.filetransfer import FilesystemSFTPServer, FileTransferServer
from torsion.internet.interfaces import ITransport


@implementer(ITransport)
class _StdioTransport:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.disconnecting = False

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def writeSequence(self, data: Any) -> None:
        self.write(b"".join(data))

    def loseConnection(self) -> None:
        self.disconnecting = True

    def getPeer(self) -> Any:
        return None

    def getHost(self) -> Any:
        return None


def serve(root: str, inFd: int = 0, outFd: int = 1) -> None:
    server = FileTransferServer(avatar=FilesystemSFTPServer(root))
    transport = _StdioTransport(outFd)
    server.makeConnection(transport)
    while not transport.disconnecting:
        data = os.read(inFd, 256 * 1024)
        if not data:
            break
        server.dataReceived(data)
    server.connectionLost()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m torsion.conch.ssh.sftpstdio ROOT\n")
        return 2
    try:
        serve(argv[0])
    except ValueError as e:
        sys.stderr.write(f"{e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
