"""The ``mail`` plugin's options and service (torsion/plugins/torsion_mail.py,
torsion/mail/tap.py). Running it for real is in tests/mail/test_endtoend.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.application.conftest import installedAsGlobal
from tests.mail._storehelpers import tlsFiles
from torsion.application.internet import StreamServerEndpointService
from torsion.application.service import IServiceMaker
from torsion.internet.testing import MemoryReactor
from torsion.mail import tap
from torsion.mail.mail import MailService
from torsion.mail.maildir import MaildirDirdbmDomain
from torsion.plugin import getPlugins
from torsion.python import usage


@pytest.fixture
def memoryReactor() -> Iterator[MemoryReactor]:
    made = MemoryReactor()
    with installedAsGlobal(made):
        yield made


def parse(*args: str) -> tap.Options:
    options = tap.Options()
    options.parseOptions(list(args))
    return options


def test_pluginIsFound() -> None:
    makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
    assert makers["mail"].options is tap.Options


def test_defaults(tmp_path: Path) -> None:
    options = parse("--maildirdbmdomain", f"example.com={tmp_path}")
    assert options["smtp"] == ["tcp:8025"] and options["pop3"] == ["tcp:8110"]
    assert options["imap"] == [] and options["contextFactory"] is None
    (domain,) = options["domains"]
    assert (domain.name, domain.path) == ("example.com", str(tmp_path))


def test_userAndAliasesGoToTheLastDomain(tmp_path: Path) -> None:
    aliases = tmp_path / "aliases"
    aliases.write_text("postmaster: bob\n")
    options = parse(
        "-d", f"a.example={tmp_path / 'a'}", "-u", "alice=one",
        "--domain", f"B.example={tmp_path / 'b'}", "--user", "bob=two words",
        "--aliases", str(aliases), "-b", "--default",
        "--smtp", "2525", "--pop3", "tcp:1110:interface=127.0.0.1", "--imap", "1143",
    )  # fmt: skip
    first, second = options["domains"]
    assert first.users == [("alice", "one")] and second.users == [("bob", "two words")]
    assert second.name == "b.example" and second.aliases == str(aliases) and second.postmaster
    assert options["defaultDomain"] == "b.example"
    assert options["smtp"] == ["tcp:2525"]
    assert options["pop3"] == ["tcp:1110:interface=127.0.0.1"]
    assert options["imap"] == ["tcp:1143"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], "give a domain"),
        (["--user", "a=b"], "give --maildirdbmdomain first"),
        (["-d", "nodomain"], "give DOMAIN=PATH"),
        (["-d", "x.example=/tmp/a", "-d", "X.example=/tmp/b"], "given twice"),
        (["-d", "x.example=/tmp/a", "--user", "alice"], "NAME=PASSWORD"),
        (["-d", "x.example=/tmp/a", "--user", "a/b=pw"], "cannot be a user name"),
        (["-d", "x.example=/tmp/a", "--aliases", "/no/such"], "no such file"),
        (["-d", "x.example=/tmp/a", "--smtp", "bogus:1"], "--smtp 'bogus:1'"),
        (["-d", "x.example=/tmp/a", "--pop3", "ssl:995"], "needs a key and certificate"),
        (["-d", "x.example=/tmp/a", "--no-smtp", "--smtp", "25"], "contradict"),
        (["-d", "x.example=/tmp/a", "--no-smtp", "--no-pop3"], "nothing to serve"),
        (["-d", "x.example=/tmp/a", "--certificate", "/no/such.pem"], "cannot be used"),
        (["-d", "x.example=/tmp/a", "--private-key", "k.pem"], "goes with --certificate"),
        (["-d", "x.example=/tmp/a", "--smarthost", "h:25"], "goes with --relay"),
        (["-d", "x.example=/tmp/a", "--relay", "/tmp/q", "--smarthost", "h"], "HOST:PORT"),
        (["-d", "x.example=/tmp/a", "--relay-deadline", "5"], "goes with --relay"),
        (["-d", "x.example=/tmp/a", "--relay", "/q", "--relay-retry-delays", "1,x"], "positive"),
        (["-d", "x.example=/tmp/a", "--relay", "/q", "--relay-retry-delays", "0"], "positive"),
        (["-d", "x.example=/tmp/a", "--relay", "/q", "--relay-deadline", "-1"], "give seconds"),
    ],
)
def test_usageErrors(args: list[str], words: str) -> None:
    with pytest.raises(usage.UsageError, match=words):
        parse(*args)


def test_certificateFillsInSSLEndpoints(tmp_path: Path) -> None:
    _, _, keyFile, certFile = tlsFiles(tmp_path)
    options = parse(
        "-d", f"x.example={tmp_path / 'x'}", "--certificate", certFile,
        "--private-key", keyFile, "--pop3", "ssl:995", "--smtp", "25",
    )  # fmt: skip
    assert options["contextFactory"] is not None
    assert options["pop3"] == [f"ssl:995:privateKey={keyFile}:certKey={certFile}"]
    assert options["smtp"] == ["tcp:25"]


def test_makeService(tmp_path: Path, memoryReactor: MemoryReactor) -> None:
    from torsion.cred.checkers import HashedPasswordChecker

    options = parse(
        "-d", f"x.example={tmp_path / 'x'}", "-u", "alice=pw",
        "--smtp", "tcp:2525", "--smtp", "tcp:2526", "--pop3", "1110", "--imap", "1143",
        "--hostname", "mx.x.example", "--auth", "memory:relay:pw",
    )  # fmt: skip
    svc = tap.makeService(options)
    assert isinstance(svc, MailService)
    store = svc.domains[b"x.example"]
    assert isinstance(store, MaildirDirdbmDomain)
    assert store.userDirectory("alice") == str(tmp_path / "x" / "alice")
    assert "alice:$argon2id$" in (tmp_path / "x" / "passwd").read_text()
    listening = [s for s in svc if isinstance(s, StreamServerEndpointService)]
    assert len(listening) == 4
    smtpFactory = listening[0].factory
    assert smtpFactory.domain == b"mx.x.example"
    assert svc._router.extra and not isinstance(svc._router.extra[0], HashedPasswordChecker)


def test_relayService(tmp_path: Path, memoryReactor: MemoryReactor) -> None:
    from torsion.mail import relaymanager

    options = parse(
        "-d", f"x.example={tmp_path / 'x'}", "--relay", str(tmp_path / "queue"),
        "--smarthost", "[::1]:2525", "--relay-retry-delays", "5,10", "--relay-deadline", "3600",
        "--hostname", "mx.x.example",
    )  # fmt: skip
    assert options["smarthost"] == ("::1", 2525)
    svc = tap.makeService(options)
    assert isinstance(svc.queue, relaymanager.Queue)
    assert (tmp_path / "queue").is_dir()
    manager = svc.relayManager
    assert manager.smartHostAddr == ("::1", 2525)
    assert manager.retryDelays == (5.0, 10.0) and manager.deadline == 3600.0
    assert manager.heloName == b"mx.x.example"
    assert any(isinstance(s, relaymanager.RelayStateHelper) for s in svc)


def test_aliasesAreLoadedAndReloaded(tmp_path: Path, memoryReactor: MemoryReactor) -> None:
    aliases = tmp_path / "aliases"
    aliases.write_text("postmaster: alice\n")
    options = parse(
        "-d", f"x.example={tmp_path / 'x'}", "-u", "alice=pw", "--aliases", str(aliases),
    )  # fmt: skip
    svc = tap.makeService(options)
    store = svc.domains[b"x.example"]
    assert sorted(store.alias) == [b"postmaster"]
    assert str(aliases) in svc.monitor.files
    aliases.write_text("postmaster: alice\nabuse: alice\n")
    _, _, reload = svc.monitor.files[str(aliases)]
    reload(str(aliases))
    assert sorted(store.alias) == [b"abuse", b"postmaster"]


def test_theServiceCanBeSaved(tmp_path: Path, memoryReactor: MemoryReactor) -> None:
    import pickle

    aliases = tmp_path / "aliases"
    aliases.write_text("postmaster: alice\n")
    options = parse(
        "-d", f"x.example={tmp_path / 'x'}", "-u", "alice=pw", "--aliases", str(aliases),
        "--smtp", "tcp:2525", "--pop3", "tcp:1110", "--imap", "tcp:1143",
    )  # fmt: skip
    loaded = pickle.loads(pickle.dumps(tap.makeService(options)))
    store = loaded.domains[b"x.example"]
    assert sorted(store.alias) == [b"postmaster"]
    assert store.userDirectory("alice") == str(tmp_path / "x" / "alice")
    assert len([s for s in loaded if isinstance(s, StreamServerEndpointService)]) == 3
