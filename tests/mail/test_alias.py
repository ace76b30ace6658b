"""Tests for torsion.mail.alias: alias files, address, file, process and group aliases,
loops, through a maildir domain."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.internet.reactormixins import closeReactor, runUntilFired
from tests.mail._storehelpers import makeService, user
from torsion.internet import defer
from torsion.internet.selectreactor import SelectReactor
from torsion.logger import formatEvent
from torsion.mail import smtp
from torsion.mail.alias import (
    AddressAlias,
    AliasGroup,
    FileAlias,
    ProcessAlias,
    loadAliasFile,
)
from torsion.mail.maildir import MaildirMailbox


@pytest.fixture
def poolReactor() -> Iterator[Any]:
    made = SelectReactor()
    try:
        yield made
    finally:
        closeReactor(made)


def send(domain: Any, to: str, lines: list[bytes], reactor: Any = None) -> Any:
    made = domain.exists(user(to))
    message = made()
    for line in lines:
        message.lineReceived(line)
    d = defer.maybeDeferred(message.eomReceived)
    if reactor is not None:
        return runUntilFired(reactor, d, timeout=10)
    out: list[Any] = []
    d.addBoth(out.append)
    if isinstance(out[0], Exception) or hasattr(out[0], "raiseException"):
        out[0].raiseException()
    return out[0]


def setUp(tmp_path: Path, text: str) -> tuple[Any, Any]:
    service, store = makeService(tmp_path, {"alice": "pw", "bob": "pw"})
    aliases = loadAliasFile(service.domains, fp=io.StringIO(text))
    service.setAliases(aliases)
    return service, store


def messages(tmp_path: Path, name: str) -> list[bytes]:
    mbox = MaildirMailbox(str(tmp_path / "example.com" / name))
    return [mbox.getMessage(i).read() for i in range(len(mbox.list))]


def test_parseAliasFile(tmp_path: Path) -> None:
    text = (
        "# comment\n"
        "postmaster: alice\n"
        "team: alice, bob,\n"
        "  carol@other.example  # trailing comment\n"
        "\n"
        'prog: "|/bin/prog a,b"\n'
        "broken line\n"
    )
    service, _ = makeService(tmp_path)
    aliases = loadAliasFile(service.domains, fp=io.StringIO(text), filename="aliases")
    assert sorted(aliases) == [b"postmaster", b"prog", b"team"]
    assert [str(a) for a in aliases[b"team"].aliases] == [
        "<Address alice>",
        "<Address bob>",
        "<Address carol@other.example>",
    ]
    (prog,) = aliases[b"prog"].aliases
    assert isinstance(prog, ProcessAlias) and prog.program == ["/bin/prog", "a,b"]


def test_userAlias(tmp_path: Path) -> None:
    _, store = setUp(tmp_path, "postmaster: alice\n")
    send(store, "postmaster@example.com", [b"Subject: to pm"])
    assert messages(tmp_path, "alice") == [b"Subject: to pm\n"]


def test_realUserWinsOverAlias(tmp_path: Path) -> None:
    _, store = setUp(tmp_path, "bob: alice\n")
    send(store, "bob@example.com", [b"x"])
    assert messages(tmp_path, "bob") == [b"x\n"] and messages(tmp_path, "alice") == []


def test_groupAliasDeliversOnceEach(tmp_path: Path) -> None:
    _, store = setUp(tmp_path, "team: alice, bob, staff\nstaff: alice\n")
    send(store, "team@example.com", [b"hello team"])
    assert messages(tmp_path, "alice") == [b"hello team\n"]
    assert messages(tmp_path, "bob") == [b"hello team\n"]


def test_fileAlias(tmp_path: Path) -> None:
    archive = tmp_path / "archive.mbox"
    _, store = setUp(tmp_path, f"archive: {archive}\n")
    send(store, "archive@example.com", [b"Subject: one", b"", b"From me"])
    send(store, "archive@example.com", [b"Subject: two"])
    text = archive.read_bytes()
    assert text.count(b"\nFrom MAILER-DAEMON ") + text.startswith(b"From MAILER-DAEMON ") == 2
    assert b"\n>From me\n" in text and b"Subject: two\n" in text


def test_loopIsRefusedAndLogged(tmp_path: Path, logged: list[Any]) -> None:
    _, store = setUp(tmp_path, "a: b\nb: c\nc: a\n")
    with pytest.raises(smtp.SMTPBadRcpt) as caught:
        store.exists(user("a@example.com"))
    assert caught.value.code == 550 and b"loop" in caught.value.resp
    texts = [formatEvent(e) for e in logged]
    assert any(
        "a@example.com -> b@example.com -> c@example.com -> a@example.com" in t for t in texts
    )


def test_selfLoop(tmp_path: Path) -> None:
    _, store = setUp(tmp_path, "me: me\n")
    with pytest.raises(smtp.SMTPBadRcpt, match="loop"):
        store.exists(user("me@example.com"))


def test_aliasToUnknownUserIsRefused(tmp_path: Path) -> None:
    _, store = setUp(tmp_path, "ghost: nobody\n")
    with pytest.raises(smtp.SMTPBadRcpt) as caught:
        store.exists(user("ghost@example.com"))
    assert caught.value.code == 550


def test_tooManyTargets(tmp_path: Path) -> None:
    names = ", ".join(f"/tmp/f{i}" for i in range(101))
    _, store = setUp(tmp_path, f"wide: {names}\n")
    with pytest.raises(smtp.SMTPBadRcpt, match="too many"):
        store.exists(user("wide@example.com"))


def test_includeFile(tmp_path: Path) -> None:
    listing = tmp_path / "list"
    listing.write_text("alice,\nbob\n")
    _, store = setUp(tmp_path, f"list: :include:{listing}\n")
    send(store, "list@example.com", [b"x"])
    assert messages(tmp_path, "alice") == [b"x\n"] and messages(tmp_path, "bob") == [b"x\n"]


def _processAlias(store: Any, command: str, reactor: Any) -> None:
    for group in store.alias.values():
        for alias in group.aliases:
            if isinstance(alias, ProcessAlias):
                alias.reactor = reactor


def test_processAlias(tmp_path: Path, poolReactor: Any) -> None:
    out = tmp_path / "out"
    script = tmp_path / "copy.py"
    script.write_text(f"import sys\nopen({str(out)!r}, 'wb').write(sys.stdin.buffer.read())\n")
    _, store = setUp(tmp_path, f"prog: |{sys.executable} {script}\n")
    _processAlias(store, "", poolReactor)
    send(store, "prog@example.com", [b"Subject: piped", b"", b"body"], poolReactor)
    assert out.read_bytes() == b"Subject: piped\n\nbody\n"


def test_failingProcessAliasFailsTheDelivery(tmp_path: Path, poolReactor: Any) -> None:
    _, store = setUp(tmp_path, f"prog: |{sys.executable} -c 'import sys; sys.exit(3)'\n")
    _processAlias(store, "", poolReactor)
    with pytest.raises(smtp.SMTPServerError) as caught:
        send(store, "prog@example.com", [b"x"], poolReactor)
    assert caught.value.code == 451


def test_slowProcessAliasTimesOut(tmp_path: Path, poolReactor: Any) -> None:
    from torsion.mail.alias import MessageWrapper

    _, store = setUp(tmp_path, f"prog: |{sys.executable} -c 'import time; time.sleep(30)'\n")
    _processAlias(store, "", poolReactor)
    message = store.exists(user("prog@example.com"))()
    assert isinstance(message, MessageWrapper)
    message.completionTimeout = 0.2
    with pytest.raises(smtp.SMTPServerError):
        runUntilFired(poolReactor, message.eomReceived(), timeout=10)


def test_aliasClassesDirectly(tmp_path: Path) -> None:
    service, _ = makeService(tmp_path, {"alice": "pw"})
    alias = AddressAlias("alice@example.com", service.domains, "pm@example.com")
    receiver = alias.resolve({})
    receiver.lineReceived(b"direct")
    receiver.eomReceived()
    assert messages(tmp_path, "alice") == [b"direct\n"]
    group = AliasGroup(["alice@example.com", str(tmp_path / "f")], service.domains, "g@example.com")
    assert len(group) == 2 and isinstance(group.aliases[1], FileAlias)
