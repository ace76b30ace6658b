"""torsion.conch.client.knownhosts without sockets: plain and hashed entries (checked
against OpenSSH's ssh-keygen both ways), patterns and negations, @revoked,
@cert-authority, unreadable lines kept, the verdicts of verifyHostKey with each kind
of ui, and save appending only what was added."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from torsion.conch.client.knownhosts import (
    AcceptNewHostKeys,
    CertificateAuthorityEntry,
    ConsoleUI,
    HashedEntry,
    HostCertificateUnsupported,
    HostKeyRevoked,
    KnownHostsFile,
    PlainEntry,
    UnparsedEntry,
    hostKeyName,
    parseEntry,
)
from torsion.conch.error import HostKeyChanged, InvalidEntry, UserRejectedKey
from torsion.conch.ssh.keys import Key
from torsion.python.failure import Failure

KEY = Key(ed25519.Ed25519PrivateKey.generate()).public()
OTHER = Key(ed25519.Ed25519PrivateKey.generate()).public()
ECDSA = Key(ec.generate_private_key(ec.SECP256R1())).public()
SSH_KEYGEN = shutil.which("ssh-keygen")
needsKeygen = pytest.mark.skipif(SSH_KEYGEN is None, reason="ssh-keygen (openssh-client) missing")


def line(hosts: str, key: Key, marker: str = "") -> str:
    encoded = base64.b64encode(key.blob()).decode()
    return f"{marker + ' ' if marker else ''}{hosts} {key.sshType().decode()} {encoded}"


def fileWith(tmp_path: Path, *lines: str) -> KnownHostsFile:
    path = tmp_path / "known_hosts"
    path.write_text("".join(text + "\n" for text in lines))
    return KnownHostsFile.fromPath(path)


def outcome(d: Any) -> Any:
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, "the Deferred should have fired at once"
    return results[0]


def test_hostKeyName() -> None:
    assert hostKeyName("Example.ORG") == b"example.org"
    assert hostKeyName("127.0.0.1", 2222) == b"[127.0.0.1]:2222"


def test_plainEntryPatterns() -> None:
    entry = parseEntry(line("*.example.org,!bad.example.org,10.0.0.?", KEY).encode())
    assert isinstance(entry, PlainEntry)
    assert entry.matchesHost("www.EXAMPLE.org") and entry.matchesHost(b"10.0.0.7")
    assert not entry.matchesHost("bad.example.org")
    assert not entry.matchesHost("example.org") and not entry.matchesHost("10.0.0.17")
    assert entry.matchesKey(KEY) and not entry.matchesKey(OTHER)
    assert entry.toString() == line("*.example.org,!bad.example.org,10.0.0.?", KEY).encode()


def test_hashedEntryRoundTrip() -> None:
    entry = HashedEntry.forHost(b"[127.0.0.1]:2222", KEY, comment=b"mine")
    again = parseEntry(entry.toString())
    assert isinstance(again, HashedEntry)
    assert again.matchesHost("[127.0.0.1]:2222") and not again.matchesHost("127.0.0.1")
    assert again.toString() == entry.toString() and again.comment == b"mine"


@pytest.mark.parametrize(
    "text",
    [
        "host ssh-ed25519",  # no key
        "host ssh-ed25519 !!notbase64!!",
        "host ssh-rsa " + base64.b64encode(KEY.blob()).decode(),  # the type lies
        "|1|onlysalt host ssh-ed25519 " + base64.b64encode(KEY.blob()).decode(),
        "@sometimes " + line("host", KEY),
    ],
    ids=["no key", "not base64", "type lies", "bad hash", "bad marker"],
)
def test_malformedLines(text: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidEntry):
        parseEntry(text.encode())
    # In a file they are kept, unparsed, and do not stop the rest being read.
    known = fileWith(tmp_path, text, line("good", KEY))
    entries = list(known.iterentries())
    assert isinstance(entries[0], UnparsedEntry) and entries[0].toString() == text.encode()
    assert known.hasHostKey("good", KEY)


def test_hasHostKey(tmp_path: Path) -> None:
    known = fileWith(tmp_path, "# a comment", line("a,b", KEY), line("c", ECDSA))
    assert known.hasHostKey("b", KEY)
    assert not known.hasHostKey("d", KEY)  # unknown host
    assert not known.hasHostKey("c", KEY)  # another key type: unknown, not changed
    with pytest.raises(HostKeyChanged) as caught:
        known.hasHostKey("a", OTHER)
    assert caught.value.lineno == 2 and caught.value.path == tmp_path / "known_hosts"
    assert "ssh-keygen -R 'a'" in str(caught.value)
    assert known.knownKeyTypes("c") == [b"ecdsa-sha2-nistp256"]


def test_revokedWinsOverATrustedLine(tmp_path: Path) -> None:
    known = fileWith(tmp_path, line("host", KEY), line("*", KEY, "@revoked"))
    with pytest.raises(HostKeyRevoked):
        known.hasHostKey("host", KEY)
    failure = outcome(known.verifyHostKey(AcceptNewHostKeys(), "host", None, KEY))
    assert isinstance(failure, Failure) and failure.check(HostKeyRevoked)
    assert known.knownKeyTypes("host") == [b"ssh-ed25519"]


def test_certAuthorityIsRefusedClearly(tmp_path: Path) -> None:
    ca = line("*.example.org", OTHER, "@cert-authority")
    known = fileWith(tmp_path, ca)
    assert isinstance(next(known.iterentries()), CertificateAuthorityEntry)
    failure = outcome(known.verifyHostKey(AcceptNewHostKeys(), "www.example.org", None, KEY))
    assert isinstance(failure, Failure) and failure.check(HostCertificateUnsupported)
    assert "does not check host certificates" in str(failure.value)
    assert next(known.iterentries()).toString() == ca.encode()


def test_verifyKnownAndByAddress(tmp_path: Path) -> None:
    known = fileWith(tmp_path, line("10.1.2.3", KEY))
    assert outcome(known.verifyHostKey(None, "name.example", "10.1.2.3", KEY)) is True


def test_unknownHostWithoutUIRefused(tmp_path: Path) -> None:
    known = fileWith(tmp_path)
    failure = outcome(known.verifyHostKey(None, "new.example", None, KEY))
    assert isinstance(failure, Failure) and failure.check(UserRejectedKey)
    assert "new.example is not in" in str(failure.value)
    assert (tmp_path / "known_hosts").read_text() == ""


def test_unknownHostAcceptedIsSavedHashed(tmp_path: Path) -> None:
    known = fileWith(tmp_path, "# keep me", "unreadable line")
    ui = AcceptNewHostKeys()
    assert outcome(known.verifyHostKey(ui, "new.example", "10.9.9.9", KEY)) is True
    assert "'new.example' can't be established" in ui.accepted[0]
    assert KEY.fingerprint("sha256-base64") in ui.accepted[0]
    text = (tmp_path / "known_hosts").read_text().splitlines()
    assert text[:2] == ["# keep me", "unreadable line"] and text[2].startswith("|1|")
    again = KnownHostsFile.fromPath(tmp_path / "known_hosts")
    assert again.hasHostKey("new.example", KEY) and not again.hasHostKey("10.9.9.9", KEY)
    with pytest.raises(HostKeyChanged) as caught:
        again.hasHostKey("new.example", OTHER)
    assert caught.value.lineno == 3


def test_saveAppendsOnly(tmp_path: Path) -> None:
    known = fileWith(tmp_path, line("a", KEY))
    # Another program adds a line after we read the file: it is not lost.
    with open(tmp_path / "known_hosts", "a") as out:
        out.write(line("b", OTHER))  # and no newline at the end
    known.addHostKey("c", ECDSA)
    known.save()
    again = KnownHostsFile.fromPath(tmp_path / "known_hosts")
    assert again.hasHostKey("a", KEY) and again.hasHostKey("b", OTHER)
    assert again.hasHostKey("c", ECDSA)


def test_missingFileIsCreatedOnSave(tmp_path: Path) -> None:
    path = tmp_path / "new" / ".ssh" / "known_hosts"
    known = KnownHostsFile.fromPath(path)
    assert list(known.iterentries()) == []
    known.addHostKey("h", KEY)
    known.save()
    assert KnownHostsFile.fromPath(path).hasHostKey("h", KEY)
    assert (path.parent.stat().st_mode & 0o777) == 0o700


class Terminal(io.StringIO):
    """A terminal whose user types ``answers``; what was written is in ``shown``."""

    def __init__(self, answers: str, shown: list[str]) -> None:
        super().__init__(answers)
        self.shown = shown

    def write(self, text: str) -> int:
        self.shown.append(text)
        return len(text)

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("typed", "accepted"),
    [("yes\n", True), ("no\n", False), ("maybe\nYES\n", True), ("", False), ("x\n" * 9, False)],
)
def test_consoleUI(tmp_path: Path, typed: str, accepted: bool) -> None:
    shown: list[str] = []
    terminal = Terminal(typed, shown)
    ui = ConsoleUI(lambda: terminal)
    known = fileWith(tmp_path)
    result = outcome(known.verifyHostKey(ui, "h.example", None, KEY))
    assert "Are you sure you want to continue connecting (yes/no)? " in shown[0]
    if accepted:
        assert result is True and "Permanently added 'h.example'" in shown[-1]
        assert KnownHostsFile.fromPath(tmp_path / "known_hosts").hasHostKey("h.example", KEY)
    else:
        assert isinstance(result, Failure) and result.check(UserRejectedKey)
        assert (tmp_path / "known_hosts").read_text() == ""


@needsKeygen
def test_opensshFindsOurHashedEntries(tmp_path: Path) -> None:
    known = KnownHostsFile.fromPath(tmp_path / "known_hosts")
    known.addHostKey(hostKeyName("host.example", 2222), KEY)
    known.save()
    assert SSH_KEYGEN is not None
    found = subprocess.run(
        [SSH_KEYGEN, "-F", "[host.example]:2222", "-f", str(tmp_path / "known_hosts")],
        capture_output=True, text=True, timeout=10,
    )  # fmt: skip
    assert found.returncode == 0 and "Host [host.example]:2222 found: line 1" in found.stdout


@needsKeygen
def test_weReadOpensshHashedEntries(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    path.write_text(line("host.example,10.0.0.1", KEY) + "\n")
    assert SSH_KEYGEN is not None
    subprocess.run([SSH_KEYGEN, "-H", "-f", str(path)], capture_output=True, timeout=10, check=True)
    text = path.read_text()
    assert "host.example" not in text and text.startswith("|1|")
    known = KnownHostsFile.fromPath(path)
    assert known.hasHostKey("host.example", KEY) and known.hasHostKey("10.0.0.1", KEY)
    assert not known.hasHostKey("other.example", KEY)
