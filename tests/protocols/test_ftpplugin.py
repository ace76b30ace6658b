"""``torsiond ftp`` as a child process: its options, logins, TLS, and a 200 MiB upload
that streams to disk while the server's memory stays flat."""

from __future__ import annotations

import ftplib
import hashlib
import io
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.internet import tlshelpers
from tests.protocols._ftphelpers import caFile
from tests.tap._torsiond import freePort, runTorsiond
from torsion.python import usage
from torsion.tap import ftp as ftptap

BIG = 200 * 2**20


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "pub").mkdir()
    (tmp_path / "pub" / "hello.txt").write_bytes(b"hello, world\n")
    (tmp_path / "home" / "alice").mkdir(parents=True)
    (tmp_path / "passwd").write_text("alice:secret\n")
    leaf = tlshelpers.serverCert()
    leaf.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    return tmp_path


def parse(*args: str) -> ftptap.Options:
    options = ftptap.Options()
    options.parseOptions(list(args))
    return options


def test_optionMistakesAreUsageErrors(site: Path) -> None:
    """Each mistake names the option and what to do."""
    root = str(site / "pub")
    cases = [
        ((), "give --root"),
        (("--root", str(site / "missing")), "is not a directory"),
        (("--root", root, "--home", str(site / "nohome")), "is not a directory"),
        (("--root", root, "--require-tls"), "--require-tls needs --certificate"),
        (("--root", root, "--private-key", "k.pem"), "--private-key goes with --certificate"),
        (("--root", root, "--passive-ports", "80-90"), "LOW-HIGH"),
        (("--root", root, "--passive-address", "::1"), "not an IPv4 address"),
        (("--root", root, "--listen", "nonsense:1"), "--listen"),
        (("--root", root, "--certificate", str(site / "passwd")), "--certificate"),
    ]
    for args, message in cases:
        with pytest.raises(usage.UsageError, match=message):
            parse(*args)


def test_optionsMakeTheService(site: Path) -> None:
    """The options reach the factory: TLS, anonymous name, passive ports, homes."""
    options = parse(
        "--root", str(site / "pub"), "--home", str(site / "home"),
        "--password-file", str(site / "passwd"), "--userAnonymous", "guest",
        "--certificate", str(site / "server.pem"), "--passive-ports", "50000-50010",
        "--passive-address", "203.0.113.5",
        "--port", "2121",
    )  # fmt: skip
    made = ftptap.makeService(options)
    factory = next(iter(made)).factory  # type: ignore[attr-defined]
    assert factory.userAnonymous == "guest"
    assert factory.tlsOptions is not None
    assert factory.passivePortRange == range(50000, 50011)
    assert factory.passiveAddress == "203.0.113.5"
    assert options["listen"] == ["tcp:2121:interface=127.0.0.1"]
    assert factory.portal.realm.getHomeDirectory(b"alice") == str(site / "home" / "alice")


@pytest.fixture
def torsiond(site: Path) -> Iterator[tuple[int, int]]:
    """torsiond ftp over ``site``: (port, pid)."""
    port = freePort()
    args = [
        "ftp", "--root", "pub", "--home", "home", "--password-file", "passwd",
        "--certificate", "server.pem", "--listen", str(port),
    ]  # fmt: skip
    with runTorsiond(args, port, site) as process:
        yield port, process.pid


def connect(port: int) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect("127.0.0.1", port, timeout=20)
    return client


def test_loginsAnonymousAccountsAndTLS(site: Path, torsiond: tuple[int, int]) -> None:
    """Anonymous reads --root; a wrong password is refused with 530 and the server
    goes on; alice writes in her home; AUTH TLS works with --certificate."""
    port, _ = torsiond
    anonymous = connect(port)
    anonymous.login()
    assert anonymous.nlst() == ["hello.txt"]
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        anonymous.storbinary("STOR x.txt", io.BytesIO(b"x"))
    anonymous.quit()

    wrong = connect(port)
    with pytest.raises(ftplib.error_perm, match=r"^530"):
        wrong.login("alice", "guess")
    wrong.close()

    context = ssl.create_default_context(cafile=str(caFile(site)))
    secure = ftplib.FTP_TLS(context=context)
    secure.connect("127.0.0.1", port, timeout=20)
    secure.login("alice", "secret")
    secure.prot_p()
    secure.storbinary("STOR mine.txt", io.BytesIO(b"alice was here"))
    assert secure.nlst() == ["mine.txt"]
    secure.quit()
    assert (site / "home" / "alice" / "mine.txt").read_bytes() == b"alice was here"


class _Pattern(io.RawIOBase):
    """``size`` bytes of a repeating pattern, made as they are read (never all held)."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.block = hashlib.sha256(b"pattern").digest() * 2048  # 64 KiB
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = min(self.left, len(self.block) if size < 0 else min(size, len(self.block)))
        self.left -= size
        chunk = self.block[:size]
        self.digest.update(chunk)
        return chunk


def peakMemory(pid: int) -> int:
    """The process's peak resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/PID/status")


def test_bigUploadStreamsToDisk(site: Path, torsiond: tuple[int, int]) -> None:
    """A 200 MiB upload lands whole on disk (sha256 checked) while the server's peak
    memory grows by far less than the file: it is written as it arrives."""
    port, pid = torsiond
    client = connect(port)
    client.login("alice", "secret")
    client.storbinary("STOR warmup.bin", io.BytesIO(b"w" * 2**20))
    before = peakMemory(pid)
    source = _Pattern(BIG)
    client.storbinary("STOR big.bin", source, blocksize=2**16)
    after = peakMemory(pid)
    assert client.size("big.bin") == BIG
    client.quit()
    stored = site / "home" / "alice" / "big.bin"
    digest = hashlib.sha256()
    with stored.open("rb") as f:
        while chunk := f.read(2**20):
            digest.update(chunk)
    assert digest.hexdigest() == source.digest.hexdigest()
    assert after - before < 20 * 2**20, f"the server's peak memory grew by {after - before}"


def test_serviceIsPicklable(site: Path) -> None:
    """``torsion mktap ftp`` saves the service: it pickles and loads, TLS included
    (the certificate is read again from its file)."""
    import pickle

    options = parse(
        "--root", str(site / "pub"), "--password-file", str(site / "passwd"),
        "--certificate", str(site / "server.pem"),
    )  # fmt: skip
    made = ftptap.makeService(options)
    factory = next(iter(made)).factory  # type: ignore[attr-defined]
    factory.tlsOptions.options()  # loaded, then still saved as file names
    loaded = pickle.loads(pickle.dumps(made))
    again = next(iter(loaded)).factory
    assert again.tlsOptions.certificate == str(site / "server.pem")
    assert again.tlsOptions.options() is not None
