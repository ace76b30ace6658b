"""torsion.cred.strcred: --auth descriptions, the checker-factory plugins, AuthOptionMixin."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from zope.interface.verify import verifyObject

from tests.cred.helpers import FAST_HASHERS, FakeRealm, IAvatar, result
from torsion.cred import hashing, strcred
from torsion.cred.checkers import (
    AllowAnonymousAccess,
    FilePasswordDB,
    InMemoryUsernamePasswordDatabaseDontUse,
)
from torsion.cred.credentials import (
    Anonymous,
    IAnonymous,
    IUsernameHashedPassword,
    IUsernamePassword,
    UsernamePassword,
)
from torsion.cred.portal import Portal
from torsion.cred.strcred import (
    AuthOptionMixin,
    ICheckerFactory,
    InvalidAuthArgumentString,
    InvalidAuthType,
)
from torsion.python import usage


class ServerOptions(usage.Options, AuthOptionMixin):
    """A server's options, as a plugin would write them."""

    optParameters = [["port", "p", "8080", "The port."]]


class PasswordOnlyOptions(AuthOptionMixin, usage.Options):
    supportedInterfaces = (IUsernamePassword,)


class SubclassedOptions(ServerOptions):
    def __init__(self) -> None:
        super().__init__()
        self["extra"] = 1


def test_torsionsFactoriesArePlugins() -> None:
    factories = {f.authType: f for f in strcred.findCheckerFactories()}
    assert {"anonymous", "file", "memory"} <= set(factories)
    for factory in factories.values():
        assert verifyObject(ICheckerFactory, factory)
    assert strcred.findCheckerFactory("memory") is factories["memory"]


def test_memoryDescription() -> None:
    checker = strcred.makeChecker("memory:alice:s3cret:bob:hunter2")
    assert isinstance(checker, InMemoryUsernamePasswordDatabaseDontUse)
    assert checker.users == {b"alice": b"s3cret", b"bob": b"hunter2"}
    portal = Portal(FakeRealm(), [checker])
    _, avatar, _ = result(portal.login(UsernamePassword("bob", "hunter2"), None, IAvatar))
    assert avatar.avatarId == b"bob"


def test_fileDescription(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    path.write_text(f"alice:{hashing.hashPassword('pw', FAST_HASHERS['argon2id'])}\n")
    checker = strcred.makeChecker(f"file:{path}")
    assert isinstance(checker, FilePasswordDB) and checker.filename == str(path)


def test_aRelativeFileIsMadeAbsolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "passwd").write_text("alice:pw\n")
    monkeypatch.chdir(tmp_path)
    assert strcred.makeChecker("file:passwd").filename == str(tmp_path / "passwd")


def test_anonymousDescription() -> None:
    assert isinstance(strcred.makeChecker("anonymous"), AllowAnonymousAccess)


@pytest.mark.parametrize(
    ("description", "error", "message"),
    [
        ("nosuch:x", InvalidAuthType, "unknown authentication type 'nosuch' (the types are: "),
        ("memory", InvalidAuthArgumentString, "give user:password pairs, e.g. --auth memory:"),
        ("memory:alice", InvalidAuthArgumentString, "got 1 field(s), which is not a whole"),
        ("memory::pw", InvalidAuthArgumentString, "the user name of pair 1 is empty"),
        ("file", InvalidAuthArgumentString, "give the password file's path, e.g. --auth file:"),
        (
            "file:/no/such/passwd",
            InvalidAuthArgumentString,
            "the password file /no/such/passwd does not exist; create it with 'torsion passwd "
            "/no/such/passwd USERNAME'",
        ),
        ("anonymous:x", InvalidAuthArgumentString, "it takes no arguments: give just --auth "),
    ],
)
def test_badDescriptions(description: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        strcred.makeChecker(description)
    assert message in str(caught.value)


def test_aMalformedFileIsReportedWithItsLine(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    path.write_text("alice:pw\nbroken\n")
    with pytest.raises(InvalidAuthArgumentString, match=f"{path}:2: expected at least 2"):
        strcred.makeChecker(f"file:{path}")


def test_optionsCollectTheCheckers() -> None:
    options = ServerOptions()
    assert options["credCheckers"] == [] and options["credInterfaces"] == {}
    options.parseOptions(["--auth", "memory:alice:s3cret", "--auth=anonymous", "-p", "1"])
    memory, anonymous = options["credCheckers"]
    assert isinstance(memory, InMemoryUsernamePasswordDatabaseDontUse)
    assert isinstance(anonymous, AllowAnonymousAccess)
    assert options["credInterfaces"] == {
        IUsernamePassword: [memory],
        IUsernameHashedPassword: [memory],
        IAnonymous: [anonymous],
    }
    assert options["port"] == "1"
    portal = Portal(FakeRealm(), options["credCheckers"])
    assert result(portal.login(Anonymous(), None, IAvatar))[1].avatarId == ()


def test_theKeysExistWhateverTheOrderOfBases() -> None:
    for options in (ServerOptions(), PasswordOnlyOptions(), SubclassedOptions()):
        assert options["credCheckers"] == [] and options["credInterfaces"] == {}
    options = SubclassedOptions()
    options.parseOptions(["--auth", "anonymous"])
    assert len(options["credCheckers"]) == 1 and options["extra"] == 1


def test_theHelpListsTheAuthOptions() -> None:
    text = str(ServerOptions())
    for option in ("--auth=", "--help-auth ", "--help-auth-type="):
        assert option in text


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (
            ["--auth", "nosuch:x"],
            "--auth: unknown authentication type 'nosuch' (the types "
            "are: anonymous, file, memory); see --help-auth",
        ),
        (
            ["--auth", "memory:alice"],
            "--auth memory: give user:password pairs, e.g. --auth "
            "memory:alice:s3cret:bob:hunter2 (got 1 field(s), which is not a whole number of "
            "pairs) (see --help-auth-type memory)",
        ),
        (["--help-auth-type", "nosuch"], "--help-auth-type: unknown authentication type"),
    ],
)
def test_aBadAuthOptionIsAUsageErrorSayingWhatToDo(words: list[str], message: str) -> None:
    with pytest.raises(usage.UsageError) as caught:
        ServerOptions().parseOptions(words)
    assert str(caught.value).startswith(message)


def test_aUsageErrorNeverRepeatsAPassword() -> None:
    with pytest.raises(usage.UsageError) as caught:
        ServerOptions().parseOptions(["--auth", "memory:alice:t0pS3cr3t:bob"])
    assert "t0pS3cr3t" not in str(caught.value)


def test_supportedInterfacesRestrictTheTypes() -> None:
    options = PasswordOnlyOptions()
    options.parseOptions(["--auth", "memory:alice:pw"])
    (checker,) = options["credCheckers"]
    assert options["credInterfaces"] == {IUsernamePassword: [checker]}
    with pytest.raises(usage.UsageError) as caught:
        PasswordOnlyOptions().parseOptions(["--auth", "anonymous"])
    assert str(caught.value) == (
        "--auth anonymous: this program cannot use it (it checks IAnonymous credentials); "
        "the types it can use are: file, memory"
    )


def test_addCheckerRefusesAnUnsupportedChecker() -> None:
    with pytest.raises(strcred.UnsupportedInterfaces, match="offers only IUsernamePassword"):
        PasswordOnlyOptions().addChecker(AllowAnonymousAccess())


def helpOutput(options: Any, words: list[str]) -> str:
    options.authOutput = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        options.parseOptions(words)
    assert exited.value.code == 0
    return str(options.authOutput.getvalue())


def test_helpAuthListsTheTypes() -> None:
    text = helpOutput(ServerOptions(), ["--help-auth"])
    assert text.startswith("Authentication types for --auth TYPE:ARGUMENTS:\n")
    for authType in ("anonymous", "file", "memory"):
        assert f"\n  {authType} " in text
    assert "--help-auth-type TYPE" in text
    assert "anonymous" not in helpOutput(PasswordOnlyOptions(), ["--help-auth"])


def test_helpAuthTypeExplainsOneType() -> None:
    text = helpOutput(ServerOptions(), ["--help-auth-type", "file"])
    assert text.startswith("Usage: --auth file:PATH\n\n")
    assert "torsion passwd FILE USER" in text
    assert "It checks: IUsernamePassword, IUsernameHashedPassword" in text
    text = helpOutput(PasswordOnlyOptions(), ["--help-auth-type", "anonymous"])
    assert text.startswith("Usage: --auth anonymous\n\n")
    assert "This program cannot use it" in text
