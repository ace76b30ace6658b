"""Saving and loading applications: torsion.persisted.sob."""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path

import pytest
from zope.interface import implementer
from zope.interface.verify import verifyObject

from tests.persisted.graphs import Node, assertSameGraph, seedLikeApplication
from torsion.persisted import sob
from torsion.persisted.sob import (
    DecryptionError,
    FormatError,
    IPersistable,
    NotPersistableError,
    PassphraseRequired,
    PersistenceError,
    Persistent,
    guessType,
    load,
    loadValueFromFile,
)


@pytest.fixture
def inTmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- file names ------------------------------------------------------------------------


def test_persistentProvidesIPersistable() -> None:
    assert verifyObject(IPersistable, Persistent(None, "x"))


@pytest.mark.parametrize(
    ("style", "tag", "passphrase", "expected"),
    [
        ("pickle", None, None, "echo.tap"),
        ("pickle", "shutdown", None, "echo-shutdown.tap"),
        ("source", None, None, "echo.tas"),
        ("xml", "shutdown", None, "echo-shutdown.tax"),
        ("pickle", None, "pw", "echo.etap"),
        ("source", "shutdown", "pw", "echo-shutdown.etas"),
        ("xml", None, "pw", "echo.etax"),
    ],
)
def test_saveNamesTheFileFromNameTagStyleAndEncryption(
    inTmp: Path, style: str, tag: str | None, passphrase: str | None, expected: str
) -> None:
    persistent = Persistent(seedLikeApplication(), "echo")
    persistent.setStyle(style)
    assert persistent.save(tag=tag, passphrase=passphrase) == expected
    assert (inTmp / expected).exists()
    assert guessType(expected) == style


def test_saveToAGivenFilename(inTmp: Path) -> None:
    Persistent([1], "echo").save(filename="elsewhere.bin")
    assert load("elsewhere.bin", "pickle") == [1]
    assert not (inTmp / "echo.tap").exists()


def test_defaultStyleIsPickle(inTmp: Path) -> None:
    persistent = Persistent({"a": 1}, "app")
    assert persistent.style == "pickle"
    path = persistent.save()
    with open(path, "rb") as f:
        assert pickle.load(f) == {"a": 1}


def test_unknownStyleIsRefused() -> None:
    with pytest.raises(ValueError, match="unknown persistence style 'yaml'"):
        Persistent(None, "x").setStyle("yaml")


def test_persistentItselfPersistsWithItsOriginal(inTmp: Path) -> None:
    # As in the seed's listing: the application holds its Persistent, which holds it.
    app = seedLikeApplication()
    app.persistable = Persistent(app, "echo")  # type: ignore[attr-defined]
    app.persistable.setStyle("source")  # type: ignore[attr-defined]
    path = app.persistable.save()  # type: ignore[attr-defined]
    text = Path(path).read_text()
    assert "Instance('torsion.persisted.sob.Persistent'" in text
    assert "style='source'" in text
    loaded = load(path, "source")
    assert loaded.persistable.original is loaded


# -- atomic writes ---------------------------------------------------------------------


def test_saveReplacesTheFileAndLeavesNoTemporary(inTmp: Path) -> None:
    Persistent([1], "app").save()
    Persistent([2], "app").save()
    assert load("app.tap", "pickle") == [2]
    assert sorted(os.listdir(inTmp)) == ["app.tap"]


def test_failedSaveLeavesTheOldFile(inTmp: Path) -> None:
    Persistent([1], "app").save()
    with pytest.raises(NotPersistableError):
        Persistent([lambda: None], "app").save()
    assert load("app.tap", "pickle") == [1]
    assert sorted(os.listdir(inTmp)) == ["app.tap"]


def test_writeErrorLeavesNoTemporary(inTmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(source: str, destination: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="No space"):
        Persistent([1], "app").save()
    assert os.listdir(inTmp) == []


def test_newFileIsPrivateAndAnOldFileKeepsItsMode(inTmp: Path) -> None:
    Persistent([1], "app").save()
    assert stat.S_IMODE(os.stat("app.tap").st_mode) == 0o600
    os.chmod("app.tap", 0o640)
    Persistent([2], "app").save()
    assert stat.S_IMODE(os.stat("app.tap").st_mode) == 0o640


# -- what cannot be saved --------------------------------------------------------------


@pytest.mark.parametrize("style", sorted(sob.STYLES))
def test_unsaveableObjectsAreClearErrors(inTmp: Path, style: str) -> None:
    persistent = Persistent(Node("n", callback=lambda: None), "app")
    persistent.setStyle(style)
    with pytest.raises(NotPersistableError, match=r"cannot save 'app' in the .* form: .*lambda"):
        persistent.save()
    assert os.listdir(inTmp) == []


@pytest.mark.parametrize("style", sorted(sob.STYLES))
def test_classesOfATacFileCannotBeSavedAndTheErrorSaysWhy(inTmp: Path, style: str) -> None:
    (inTmp / "local.tac").write_text("class Local:\n    pass\n\napplication = [Local()]\n")
    value = loadValueFromFile("local.tac", "application")
    persistent = Persistent(value, "app")
    persistent.setStyle(style)
    with pytest.raises(NotPersistableError, match=r"\.tac file"):
        persistent.save()


# -- loading ---------------------------------------------------------------------------


def test_loadSetsTheStyleOfAnIPersistable(inTmp: Path) -> None:
    holder = StyleRecorder()
    path = Persistent(holder, "rec").save()
    loaded = load(path, "pickle")
    assert loaded.styles == ["pickle"]


@implementer(IPersistable)
class StyleRecorder:
    def __init__(self) -> None:
        self.styles: list[str] = []

    def setStyle(self, style: str) -> None:
        self.styles.append(style)

    def save(
        self, tag: str | None = None, filename: str | None = None, passphrase: str | None = None
    ) -> str:
        raise NotImplementedError


def test_missingFileIsAClearError(inTmp: Path) -> None:
    with pytest.raises(PersistenceError, match=r"cannot read nothere.tap: No such file"):
        load("nothere.tap", "pickle")


def test_encryptedFileWithoutPassphraseSaysItNeedsOne(inTmp: Path) -> None:
    path = Persistent([1], "app").save(passphrase="pw")
    with pytest.raises(PassphraseRequired, match=r"app.etap is encrypted: give its passphrase"):
        load(path, "pickle")


@pytest.mark.parametrize("style", sorted(sob.STYLES))
def test_wrongPassphraseIsAClearError(inTmp: Path, style: str) -> None:
    persistent = Persistent(seedLikeApplication(), "app")
    persistent.setStyle(style)
    path = persistent.save(passphrase="right")
    with pytest.raises(DecryptionError, match="wrong passphrase, or the file was modified"):
        load(path, style, "wrong")


@pytest.mark.parametrize("style", sorted(sob.STYLES))
def test_tamperedEncryptedFileIsRejected(inTmp: Path, style: str) -> None:
    persistent = Persistent(seedLikeApplication(), "app")
    persistent.setStyle(style)
    path = Path(persistent.save(passphrase="pw"))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x20
    path.write_bytes(bytes(data))
    with pytest.raises(DecryptionError, match="wrong passphrase, or the file was modified"):
        load(str(path), style, "pw")


def test_passphraseForAPlainFileIsRefused(inTmp: Path) -> None:
    path = Persistent([1], "app").save()
    with pytest.raises(FormatError, match=r"app.tap is not encrypted, but a passphrase was given"):
        load(path, "pickle", "pw")


@pytest.mark.parametrize(
    ("style", "content", "message"),
    [
        ("pickle", b"not a pickle", "app.x is not a valid pickle \\(.tap\\) file"),
        ("pickle", b"", "app.x is not a valid pickle"),
        ("source", b"\x80\x04\x95", "app.x is not UTF-8 text"),
        ("source", b"app = (", "app.x, line 1:"),
        ("source", b"print('hello')", "holds one assignment"),
        ("xml", b"<nope", "app.x, line 1: not well-formed XML"),
        ("xml", b"app = 1", "not well-formed"),
    ],
)
def test_fileOfAnotherFormIsAClearError(
    inTmp: Path, style: str, content: bytes, message: str
) -> None:
    (inTmp / "app.x").write_bytes(content)
    with pytest.raises(FormatError, match=message):
        load("app.x", style)


def test_pickleOfAMissingClassIsAClearError(inTmp: Path) -> None:
    data = pickle.dumps(Node("n")).replace(b"graphs", b"nopeee")
    (inTmp / "old.tap").write_bytes(data)
    with pytest.raises(PersistenceError, match=r"cannot load old.tap: ModuleNotFoundError"):
        load("old.tap", "pickle")


def test_sourceNamingAMissingClassIsAClearError(inTmp: Path) -> None:
    (inTmp / "old.tas").write_text("app = Instance('tests.persisted.graphs.Gone')\n")
    with pytest.raises(FormatError, match=r"old.tas: cannot find .*no attribute 'Gone'"):
        load("old.tas", "source")


def test_loadRefusesThePythonStyle(inTmp: Path) -> None:
    with pytest.raises(ValueError, match="use loadValueFromFile"):
        load("echo.tac", "python")


def test_loadOfAnUnknownStyleIsRefused(inTmp: Path) -> None:
    with pytest.raises(ValueError, match="unknown persistence style"):
        load("echo.tap", "json")


# -- loadValueFromFile -------------------------------------------------------------------

TAC = """\
from tests.persisted.graphs import seedLikeApplication

application = seedLikeApplication()
here = __file__
"""


def test_loadValueFromFileReturnsTheVariable(inTmp: Path) -> None:
    (inTmp / "echo.tac").write_text(TAC)
    app = loadValueFromFile("echo.tac", "application")
    assertSameGraph(seedLikeApplication(), app)
    assert loadValueFromFile("echo.tac", "here") == "echo.tac"


def test_tacDoesNotRunAsMain(inTmp: Path) -> None:
    (inTmp / "main.tac").write_text("application = __name__ == '__main__'\n")
    assert loadValueFromFile("main.tac", "application") is False


def test_missingVariableIsAClearError(inTmp: Path) -> None:
    (inTmp / "empty.tac").write_text("x = 1\n")
    with pytest.raises(PersistenceError) as caught:
        loadValueFromFile("empty.tac", "application")
    assert str(caught.value) == (
        "empty.tac does not define 'application'"
        " (a .tac file sets application = service.Application(name))"
    )


def test_syntaxErrorNamesFileAndLine(inTmp: Path) -> None:
    (inTmp / "bad.tac").write_text("x = 1\napplication = service.Application(\n\n")
    with pytest.raises(PersistenceError) as caught:
        loadValueFromFile("bad.tac", "application")
    message = str(caught.value)
    assert message.startswith("bad.tac, line 2: ")
    assert "\n" not in message


def test_exceptionInTheFileNamesFileAndLine(inTmp: Path) -> None:
    (inTmp / "raises.tac").write_text("x = 1\n\ndef f():\n    return undefined\n\nf()\n")
    with pytest.raises(PersistenceError) as caught:
        loadValueFromFile("raises.tac", "application")
    assert str(caught.value) == ("raises.tac, line 4: NameError: name 'undefined' is not defined")


def test_importErrorInTheFileIsOneLine(inTmp: Path) -> None:
    (inTmp / "imports.tac").write_text("from torsion.nosuchthing import service\n")
    with pytest.raises(PersistenceError, match=r"^imports.tac, line 1: ModuleNotFoundError"):
        loadValueFromFile("imports.tac", "application")


def test_nullBytesAreAClearError(inTmp: Path) -> None:
    (inTmp / "binary.tac").write_bytes(b"x = 1\x00\n")
    with pytest.raises(PersistenceError, match=r"binary.tac"):
        loadValueFromFile("binary.tac", "application")


def test_encryptedTacLoadsWithItsPassphrase(inTmp: Path) -> None:
    from torsion.persisted import _crypto

    (inTmp / "echo.etac").write_bytes(_crypto.encrypt(TAC.encode(), "pw"))
    assert loadValueFromFile("echo.etac", "application", "pw").name == "echo"
    with pytest.raises(PassphraseRequired):
        loadValueFromFile("echo.etac", "application")
    with pytest.raises(DecryptionError):
        loadValueFromFile("echo.etac", "application", "nope")


def test_missingTacIsAClearError(inTmp: Path) -> None:
    with pytest.raises(PersistenceError, match=r"cannot read gone.tac"):
        loadValueFromFile("gone.tac", "application")


# -- guessType ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "style"),
    [
        ("echo.tac", "python"),
        ("echo.etac", "python"),
        ("x/y/echo.py", "python"),
        ("echo-shutdown.tap", "pickle"),
        ("echo.etap", "pickle"),
        ("echo.tas", "source"),
        ("echo.etas", "source"),
        ("echo.tax", "xml"),
        ("echo.etax", "xml"),
    ],
)
def test_guessType(name: str, style: str) -> None:
    assert guessType(name) == style


def test_guessTypeOfAnUnknownExtensionSaysWhatIsKnown() -> None:
    with pytest.raises(ValueError, match=r"cannot tell the format of echo.txt .* \.tap"):
        guessType("echo.txt")


def test_twistedSpellingIsKept() -> None:
    assert sob.Persistant is Persistent
