"""The FTP server against Python's ftplib: passive, active and TLS; types; refusals."""

from __future__ import annotations

import ftplib
import gc
import hashlib
import io
import os
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.internet import reactormixins
from tests.internet.reactormixins import runUntil
from tests.protocols._ftphelpers import FTPServer, caFile, ftpServer
from torsion.protocols._ftpdata import DTP
from torsion.protocols._ftpshell import CHUNK_SIZE

oneReactor = reactormixins.oneReactor
ftpServer = ftpServer

TEXT = b"first line\nsecond line\r\nthird, with a bare \r in it\n" * 500


def login(server: FTPServer, user: str = "alice", password: str = "secret") -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect("127.0.0.1", server.port, timeout=10)
    client.login(user, password)
    return client


def tlsLogin(server: FTPServer, tmp_path: Path) -> ftplib.FTP_TLS:
    context = ssl.create_default_context(cafile=str(caFile(tmp_path)))
    client = ftplib.FTP_TLS(context=context)
    client.connect("127.0.0.1", server.port, timeout=10)
    client.login("alice", "secret")
    client.prot_p()
    return client


def download(client: ftplib.FTP, name: str) -> bytes:
    out = io.BytesIO()
    client.retrbinary(f"RETR {name}", out.write)
    return out.getvalue()


@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
def test_binaryRoundTrip(ftpServer: FTPServer, passive: bool) -> None:
    """A binary upload and download are byte for byte, in passive and active mode."""
    payload = os.urandom(3 * 2**20 + 17)

    def work() -> bytes:
        client = login(ftpServer)
        client.set_pasv(passive)
        client.storbinary("STOR blob.bin", io.BytesIO(payload))
        got = download(client, "blob.bin")
        client.quit()
        return got

    assert ftpServer.run(work) == payload
    assert (ftpServer.home("alice") / "blob.bin").read_bytes() == payload


@pytest.mark.parametrize("passive", [True, False], ids=["passive", "active"])
def test_tlsProtectsControlAndData(ftpServer: FTPServer, tmp_path: Path, passive: bool) -> None:
    """AUTH TLS, PBSZ 0, PROT P: uploads and downloads over TLS data connections."""
    payload = os.urandom(2**20 + 5)

    def work() -> tuple[bytes, list[str]]:
        client = tlsLogin(ftpServer, tmp_path)
        client.set_pasv(passive)
        client.storbinary("STOR secret.bin", io.BytesIO(payload))
        got = download(client, "secret.bin")
        names = client.nlst()
        client.quit()
        return got, names

    got, names = ftpServer.run(work)
    assert got == payload
    assert names == ["secret.bin"]


def test_asciiUploadStoresLocalLineEnds(ftpServer: FTPServer) -> None:
    """TYPE A upload: CRLF becomes LF on disk; a bare CR stays."""
    sent = b"one\r\ntwo\r\nbare\rcr\r\n"

    def work() -> None:
        client = login(ftpServer)
        client.voidcmd("TYPE A")
        with client.transfercmd("STOR text.txt") as conn:
            conn.sendall(sent)
        client.voidresp()
        client.quit()

    ftpServer.run(work)
    assert (ftpServer.home("alice") / "text.txt").read_bytes() == b"one\ntwo\nbare\rcr\n"


def test_asciiDownloadSendsCRLF(ftpServer: FTPServer) -> None:
    """TYPE A download: each LF goes out as CRLF (one already after a CR is kept);
    TYPE I sends the bytes as they are; SIZE gives each type's own size."""
    (ftpServer.home("alice") / "text.txt").write_bytes(TEXT)

    def work() -> tuple[bytes, bytes, int, int]:
        client = login(ftpServer)
        client.voidcmd("TYPE A")
        asciiSize = int(client.sendcmd("SIZE text.txt").split()[1])
        with client.transfercmd("RETR text.txt") as conn:
            asText = b""
            while chunk := conn.recv(65536):
                asText += chunk
        client.voidresp()
        binary = download(client, "text.txt")
        binarySize = client.size("text.txt")
        client.quit()
        return asText, binary, asciiSize, binarySize or 0

    asText, binary, asciiSize, binarySize = ftpServer.run(work)
    expected = TEXT.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert asText == expected
    assert asciiSize == len(expected)
    assert binary == TEXT
    assert binarySize == len(TEXT)


def test_retrlinesAndStorlines(ftpServer: FTPServer) -> None:
    """ftplib's own text mode (TYPE A both ways) round-trips lines."""

    def work() -> list[str]:
        client = login(ftpServer)
        client.storlines("STOR lines.txt", io.BytesIO(b"alpha\nbeta\ngamma\n"))
        lines: list[str] = []
        client.retrlines("RETR lines.txt", lines.append)
        client.quit()
        return lines

    assert ftpServer.run(work) == ["alpha", "beta", "gamma"]
    assert (ftpServer.home("alice") / "lines.txt").read_bytes() == b"alpha\nbeta\ngamma\n"


def test_directoriesAndNames(ftpServer: FTPServer) -> None:
    """MKD, CWD, PWD, CDUP, RNFR/RNTO, DELE, RMD, NLST, LIST, MLSD, MLST, MDTM."""
    home = ftpServer.home("alice")
    (home / "a.txt").write_bytes(b"12345")
    os.utime(home / "a.txt", (1_600_000_000, 1_600_000_000))

    def work() -> dict[str, Any]:
        client = login(ftpServer)
        seen: dict[str, Any] = {}
        seen["mkd"] = client.mkd("sub")
        client.cwd("sub")
        seen["pwd"] = client.pwd()
        client.storbinary("STOR inner.bin", io.BytesIO(b"x"))
        client.sendcmd("CDUP")
        seen["top"] = client.pwd()
        client.rename("a.txt", "b.txt")
        seen["nlst"] = sorted(client.nlst())
        listing: list[str] = []
        client.retrlines("LIST", listing.append)
        seen["list"] = listing
        seen["mlsd"] = dict(client.mlsd())
        seen["mlst"] = client.sendcmd("MLST b.txt")
        seen["mdtm"] = client.sendcmd("MDTM b.txt")
        with pytest.raises(ftplib.error_perm) as notEmpty:
            client.rmd("sub")
        seen["rmdFull"] = str(notEmpty.value)
        client.delete("sub/inner.bin")
        client.rmd("sub")
        client.delete("b.txt")
        seen["after"] = client.nlst()
        client.quit()
        return seen

    seen = ftpServer.run(work)
    assert seen["mkd"] == "/sub"
    assert seen["pwd"] == "/sub"
    assert seen["top"] == "/"
    assert seen["nlst"] == ["b.txt", "sub"]
    assert any(line.startswith("-rw") and line.endswith(" b.txt") for line in seen["list"])
    assert any(line.startswith("d") and line.endswith(" sub") for line in seen["list"])
    assert seen["mlsd"]["b.txt"]["type"] == "file"
    assert seen["mlsd"]["b.txt"]["size"] == "5"
    assert seen["mlsd"]["sub"]["type"] == "dir"
    assert "type=file;size=5;modify=20200913122640;" in seen["mlst"]
    assert seen["mdtm"] == "213 20200913122640"
    assert seen["rmdFull"].startswith("550")
    assert seen["after"] == []


def test_restAndAppe(ftpServer: FTPServer) -> None:
    """REST before RETR resumes a download; before STOR it resumes an upload; APPE
    appends."""
    (ftpServer.home("alice") / "f.bin").write_bytes(b"0123456789")

    def work() -> bytes:
        client = login(ftpServer)
        client.voidcmd("TYPE I")
        out = io.BytesIO()
        client.retrbinary("RETR f.bin", out.write, rest=4)
        client.storbinary("STOR f.bin", io.BytesIO(b"ABC"), rest=8)
        client.storbinary("APPE f.bin", io.BytesIO(b"+tail"))
        client.quit()
        return out.getvalue()

    assert ftpServer.run(work) == b"456789"
    assert (ftpServer.home("alice") / "f.bin").read_bytes() == b"01234567ABC+tail"


def test_anonymousIsReadOnly(ftpServer: FTPServer) -> None:
    """Anonymous users read the anonymous root and may change nothing in it."""
    (ftpServer.anonymousRoot / "readme.txt").write_bytes(b"public")

    def work() -> tuple[bytes, list[str]]:
        client = ftplib.FTP()
        client.connect("127.0.0.1", ftpServer.port, timeout=10)
        client.login()
        got = download(client, "readme.txt")
        refusals = []
        for attempt in (
            lambda: client.storbinary("STOR new.txt", io.BytesIO(b"x")),
            lambda: client.mkd("dir"),
            lambda: client.delete("readme.txt"),
            lambda: client.rename("readme.txt", "other.txt"),
        ):
            with pytest.raises(ftplib.error_perm) as refused:
                attempt()
            refusals.append(str(refused.value)[:3])
        client.quit()
        return got, refusals

    got, refusals = ftpServer.run(work)
    assert got == b"public"
    assert refusals == ["550"] * 4
    assert sorted(os.listdir(ftpServer.anonymousRoot)) == ["readme.txt"]


def test_usersHaveTheirOwnHomes(ftpServer: FTPServer) -> None:
    """Each account works in its own home and cannot reach another's."""

    def work() -> list[str]:
        alice = login(ftpServer)
        alice.storbinary("STOR mine.txt", io.BytesIO(b"alice's"))
        alice.quit()
        bob = login(ftpServer, "bob", "hunter2")
        names = bob.nlst()
        with pytest.raises(ftplib.error_perm):
            download(bob, "../alice/mine.txt")
        bob.quit()
        return names

    assert ftpServer.run(work) == []
    assert (ftpServer.home("alice") / "mine.txt").exists()


def test_escapesRefused(ftpServer: FTPServer, tmp_path: Path) -> None:
    """../ above the root and symbolic links (to files or directories outside, or
    inside) are refused; nothing outside the root is read or written."""
    home = ftpServer.home("alice")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"do not serve")
    (home / "link.txt").symlink_to(outside / "secret.txt")
    (home / "linkdir").symlink_to(outside)

    def work() -> list[str]:
        client = login(ftpServer)
        refused = []
        for number, attempt in enumerate(
            (
                lambda: download(client, "../../outside/secret.txt"),
                lambda: download(client, "/../secret.txt"),
                lambda: download(client, "link.txt"),
                lambda: download(client, "linkdir/secret.txt"),
                lambda: client.cwd("linkdir"),
                lambda: client.cwd("../.."),
                lambda: client.storbinary("STOR linkdir/planted.txt", io.BytesIO(b"x")),
                lambda: client.storbinary("STOR link.txt", io.BytesIO(b"overwrite")),
                lambda: client.sendcmd("MLSD linkdir"),
            )
        ):
            with pytest.raises(ftplib.error_perm) as error:
                attempt()
            refused.append(f"{number}: {str(error.value)[:3]}")
        # Listing a link shows the link itself, never what it points to.
        listed = client.nlst("linkdir")
        pwd = client.pwd()
        client.quit()
        return [*refused, *listed, pwd]

    result = ftpServer.run(work)
    assert result == [f"{n}: 550" for n in range(9)] + ["linkdir", "/"]
    assert (outside / "secret.txt").read_bytes() == b"do not serve"
    assert sorted(os.listdir(outside)) == ["secret.txt"]


def test_wrongPasswordRefusedAndServerGoesOn(ftpServer: FTPServer) -> None:
    """A wrong password gets 530; the same and other clients then log in fine."""

    def work() -> tuple[str, str, list[str]]:
        client = ftplib.FTP()
        client.connect("127.0.0.1", ftpServer.port, timeout=10)
        with pytest.raises(ftplib.error_perm) as refused:
            client.login("alice", "wrong")
        with pytest.raises(ftplib.error_perm) as unknown:
            client.login("mallory", "secret")
        client.login("alice", "secret")
        client.quit()
        other = login(ftpServer, "bob", "hunter2")
        names = other.nlst()
        other.quit()
        return str(refused.value), str(unknown.value), names

    wrong, unknown, names = ftpServer.run(work)
    assert wrong.startswith("530")
    assert unknown.startswith("530")
    assert names == []


def test_nothingBeforeLogin(ftpServer: FTPServer) -> None:
    """Commands that need a login get 530 before it."""

    def work() -> str:
        client = ftplib.FTP()
        client.connect("127.0.0.1", ftpServer.port, timeout=10)
        with pytest.raises(ftplib.error_perm) as refused:
            client.sendcmd("RETR anything")
        client.quit()
        return str(refused.value)

    assert ftpServer.run(work).startswith("530")


def test_portToPrivilegedOrForeignPortRefused(ftpServer: FTPServer) -> None:
    """PORT/EPRT naming a port under 1024, or another host than the client's, is
    refused (no bounce attacks); malformed ones get 501."""

    def work() -> list[str]:
        client = login(ftpServer)
        replies = []
        for command in (
            "PORT 127,0,0,1,0,21",
            "EPRT |1|127.0.0.1|22|",
            "PORT 192,0,2,1,200,10",
            "EPRT |1|192.0.2.1|51210|",
            "PORT 1,2,3",
            "EPRT |3|x|1|",
        ):
            with pytest.raises(ftplib.Error) as refused:
                client.sendcmd(command)
            replies.append(str(refused.value)[:3])
        client.quit()
        return replies

    assert ftpServer.run(work) == ["504", "504", "504", "504", "501", "501"]


def test_featAndSyntaxErrors(ftpServer: FTPServer) -> None:
    """FEAT lists the extensions; unknown commands get 502 and bad arguments 501, and
    the session goes on."""

    def work() -> tuple[str, list[str]]:
        client = login(ftpServer)
        features = client.sendcmd("FEAT")
        replies = []
        for command in ("XYZZY", "TYPE Q", "REST abc", "MODE B", "RNTO nowhere"):
            with pytest.raises(ftplib.Error) as refused:
                client.sendcmd(command)
            replies.append(str(refused.value)[:3])
        replies.append(client.sendcmd("NOOP")[:3])
        client.quit()
        return features, replies

    features, replies = ftpServer.run(work)
    for feature in ("AUTH TLS", "EPSV", "MLST", "REST STREAM", "SIZE", "MDTM", "UTF8"):
        assert f"\n {feature}" in features
    assert replies == ["502", "504", "501", "504", "503", "200"]


def test_overlongLineClosesOnlyThatConnection(ftpServer: FTPServer) -> None:
    """A line over the limit gets 500 and that connection closes; others go on."""

    def work() -> tuple[bytes, list[str]]:
        with socket.create_connection(("127.0.0.1", ftpServer.port), timeout=10) as raw:
            raw.recv(1024)
            raw.sendall(b"USER " + b"x" * 10_000 + b"\r\n")
            answer = b""
            while chunk := raw.recv(1024):
                answer += chunk
        client = login(ftpServer)
        names = client.nlst()
        client.quit()
        return answer, names

    answer, names = ftpServer.run(work)
    assert answer.startswith(b"500 ")
    assert names == []


def test_tlsRequiredRefusesClearLogin(ftpServer: FTPServer, tmp_path: Path) -> None:
    """With requireTLS, USER before AUTH TLS is refused; over TLS the login works."""
    ftpServer.factory.requireTLS = True

    def work() -> tuple[str, str]:
        client = ftplib.FTP()
        client.connect("127.0.0.1", ftpServer.port, timeout=10)
        with pytest.raises(ftplib.error_perm) as refused:
            client.login("alice", "secret")
        client.close()
        secure = tlsLogin(ftpServer, tmp_path)
        done = secure.pwd()
        secure.quit()
        return str(refused.value), done

    refused, pwd = ftpServer.run(work)
    assert refused.startswith("530 TLS is required")
    assert pwd == "/"


def test_abortDuringDownload(ftpServer: FTPServer) -> None:
    """ABOR during a transfer: 426 for the transfer, then 226; the session goes on."""
    (ftpServer.home("alice") / "big.bin").write_bytes(os.urandom(16 * 2**20))

    def work() -> tuple[str, list[str]]:
        client = login(ftpServer)
        client.voidcmd("TYPE I")
        conn = client.transfercmd("RETR big.bin")
        conn.recv(1024)
        replies = [client.abort()]  # ftplib reads the 426 only
        replies.append(client.getresp())
        conn.close()
        names = client.nlst()
        client.quit()
        return replies, names

    replies, names = ftpServer.run(work)
    assert [reply[:3] for reply in replies] == ["426", "226"]
    assert names == ["big.bin"]


def test_commandsPipelinedAfterAuthAreDropped(ftpServer: FTPServer, tmp_path: Path) -> None:
    """Commands sent in clear in the same packet as AUTH TLS are not run once TLS is
    on (no command injection): the first reply over TLS is the first command sent
    over TLS."""
    context = ssl.create_default_context(cafile=str(caFile(tmp_path)))

    def work() -> tuple[bytes, bytes]:
        with socket.create_connection(("127.0.0.1", ftpServer.port), timeout=10) as raw:
            raw.recv(1024)
            raw.sendall(b"AUTH TLS\r\nUSER alice\r\nPASS secret\r\n")
            answer = raw.recv(1024)
            with context.wrap_socket(raw, server_hostname="localhost") as secure:
                secure.sendall(b"PWD\r\n")
                first = secure.recv(1024)
        return answer, first

    answer, first = ftpServer.run(work)
    assert answer.startswith(b"234 ")
    assert first.startswith(b"530 ")  # PWD before any login over TLS


def test_tlsRequiredRefusesClearData(ftpServer: FTPServer, tmp_path: Path) -> None:
    """With requireTLS, a transfer before PROT P gets 521."""
    ftpServer.factory.requireTLS = True
    context = ssl.create_default_context(cafile=str(caFile(tmp_path)))

    def work() -> str:
        client = ftplib.FTP_TLS(context=context)
        client.connect("127.0.0.1", ftpServer.port, timeout=10)
        client.login("alice", "secret")
        with pytest.raises(ftplib.error_perm) as refused:
            client.nlst()
        client.quit()
        return str(refused.value)

    assert ftpServer.run(work).startswith("521")


def test_slowReaderKeepsServerBufferBounded(ftpServer: FTPServer) -> None:
    """A client that stops reading a download: the server holds at most about a
    chunk in its own buffer (the kernel's socket buffers hold the rest), reads no
    further ahead in the file, and the whole file arrives once the client reads."""
    size = 32 * 2**20
    block = os.urandom(2**20)
    with (ftpServer.home("alice") / "big.bin").open("wb") as f:
        for _ in range(size // len(block)):
            f.write(block)
    expected = hashlib.sha256(block * (size // len(block))).hexdigest()
    stage: list[str] = []
    go = threading.Event()
    outcome: list[Any] = []

    def client() -> None:
        try:
            ftp_ = login(ftpServer)
            ftp_.voidcmd("TYPE I")
            conn = ftp_.transfercmd("RETR big.bin")
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            stage.append("waiting")
            go.wait(20)
            digest = hashlib.sha256()
            while chunk := conn.recv(2**20):
                digest.update(chunk)
            conn.close()
            ftp_.voidresp()
            ftp_.quit()
            outcome.append(digest.hexdigest())
        except BaseException as e:
            outcome.append(e)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    reactor = ftpServer.reactor
    runUntil(reactor, lambda: bool(stage), timeout=20)
    deadline = reactor.seconds() + 1.0
    runUntil(reactor, lambda: reactor.seconds() > deadline, timeout=5)
    transfers = [
        o
        for o in gc.get_objects()
        if isinstance(o, DTP) and o.channel.reactor is reactor and o.lostReason is None
    ]
    assert len(transfers) == 1
    buffered = transfers[0].transport.bufferedSize()
    assert buffered <= 2 * CHUNK_SIZE, f"the server buffered {buffered} bytes"
    go.set()
    runUntil(reactor, lambda: bool(outcome), timeout=25)
    thread.join(5)
    assert outcome == [expected]
