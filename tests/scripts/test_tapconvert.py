"""``python -m torsion.scripts.tapconvert``, run as a real child process.

The walk-through follows the seed: a .tac becomes a .tap, the .tap becomes a readable
.tas, then .tax and back, encrypted and not; bad input gives one line on stderr and a
non-zero status, never a traceback.
"""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest

from tests.persisted.graphs import assertSameGraph, seedLikeApplication
from torsion.persisted import sob
from torsion.scripts import tapconvert

ROOT = Path(__file__).resolve().parents[2]

TAC = """\
from tests.persisted.graphs import seedLikeApplication

application = seedLikeApplication()
"""


# Runs tapconvert like ``python -m``, but derives encryption keys with scrypt n=2**10
# instead of 2**17 to keep the suite quick (the cost is read back from each file, so
# decrypting takes the same path either way). The tests marked realCost use ``-m`` itself.
CHEAP = (
    "import sys; from torsion.persisted import _crypto; _crypto.SCRYPT_LOG2N = 10;"
    " from torsion.scripts.tapconvert import run; sys.argv[0] = 'tapconvert'; sys.exit(run())"
)


def tapconvertProcess(
    directory: Path,
    *args: str,
    passphrase: str | None = None,
    newPassphrase: str | None = None,
    realCost: bool = False,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORSION_")}
    env["PYTHONPATH"] = str(ROOT)
    if passphrase is not None:
        env["TORSION_PASSPHRASE"] = passphrase
    if newPassphrase is not None:
        env["TORSION_NEW_PASSPHRASE"] = newPassphrase
    command = ["-m", "torsion.scripts.tapconvert"] if realCost else ["-c", CHEAP]
    return subprocess.run(
        [sys.executable, *command, *args],
        cwd=directory,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,  # no controlling terminal: passphrases only from the env
    )


def convert(directory: Path, *args: str, **options: Any) -> None:
    done = tapconvertProcess(directory, *args, **options)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def assertOneLineError(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("tapconvert: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "echo.tac").write_text(TAC)
    return tmp_path


def test_walkThroughEveryForm(work: Path) -> None:
    convert(work, "-i", "echo.tac", "-o", "echo.tap", realCost=True)
    convert(work, "-i", "echo.tap", "-o", "echo.tas")
    convert(work, "-i", "echo.tas", "-o", "echo.tax")
    convert(work, "-i", "echo.tax", "-o", "back.tap", "-t", "pickle")
    listing = (work / "echo.tas").read_text()
    assert listing.startswith("app = Ref(1, Instance('tests.persisted.graphs.Application',")
    assert "parent=Deref(1)" in listing
    assert (
        '<instance class="tests.persisted.graphs.Application">' in (work / "echo.tax").read_text()
    )
    for name, style in [
        ("echo.tap", "pickle"),
        ("echo.tas", "source"),
        ("echo.tax", "xml"),
        ("back.tap", "pickle"),
    ]:
        assertSameGraph(seedLikeApplication(), sob.load(str(work / name), style))


def test_outputFormDefaultsToSource(work: Path) -> None:
    convert(work, "-i", "echo.tac", "-o", "echo.out")
    assert (work / "echo.out").read_text().startswith("app = ")


def test_explicitFormsOverrideExtensions(work: Path) -> None:
    convert(work, "-i", "echo.tac", "-o", "saved.data", "-t", "xml")
    convert(work, "-i", "saved.data", "-f", "xml", "-o", "saved.tas")
    assert sob.load(str(work / "saved.tas"), "source").name == "echo"


def test_encryptAndDecrypt(work: Path) -> None:
    convert(
        work,
        "-i",
        "echo.tac",
        "-o",
        "echo.etap",
        "-t",
        "pickle",
        "-e",
        passphrase="pw",
        realCost=True,
    )
    header = (work / "echo.etap").read_bytes()
    assert header.startswith(b"torsion-encrypted\n")
    assert header[len(b"torsion-encrypted\n") + 2] == 17  # the real scrypt cost
    convert(work, "-i", "echo.etap", "-o", "echo.tas", "-d", passphrase="pw")
    assertSameGraph(seedLikeApplication(), sob.load(str(work / "echo.tas"), "source"))
    convert(work, "-i", "echo.tas", "-o", "echo.etax", "-e", passphrase="pw")
    assertSameGraph(seedLikeApplication(), sob.load(str(work / "echo.etax"), "xml", "pw"))


def test_reencryptWithANewPassphrase(work: Path) -> None:
    convert(work, "-i", "echo.tac", "-o", "echo.etas", "-e", passphrase="old")
    convert(
        work, "-i", "echo.etas", "-o", "new.etas", "-d", "-e", passphrase="old", newPassphrase="new"
    )
    assert sob.load(str(work / "new.etas"), "source", "new").name == "echo"
    with pytest.raises(sob.DecryptionError):
        sob.load(str(work / "new.etas"), "source", "old")


def test_wrongPassphraseIsOneLine(work: Path) -> None:
    convert(work, "-i", "echo.tac", "-o", "echo.etap", "-e", "-t", "pickle", passphrase="right")
    done = tapconvertProcess(work, "-i", "echo.etap", "-o", "x.tas", "-d", passphrase="wrong")
    assertOneLineError(done, "echo.etap", "wrong passphrase, or the file was modified")
    assert not (work / "x.tas").exists()


def test_tamperedFileIsOneLine(work: Path) -> None:
    convert(work, "-i", "echo.tac", "-o", "echo.etas", "-e", passphrase="pw")
    path = work / "echo.etas"
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF
    path.write_bytes(bytes(data))
    done = tapconvertProcess(work, "-i", "echo.etas", "-o", "x.tap", "-d", passphrase="pw")
    assertOneLineError(done, "wrong passphrase, or the file was modified")


def test_encryptedInputWithoutDecryptSaysAddD(work: Path) -> None:
    convert(work, "-i", "echo.tac", "-o", "echo.etap", "-e", "-t", "pickle", passphrase="pw")
    done = tapconvertProcess(work, "-i", "echo.etap", "-o", "x.tas")
    assertOneLineError(done, "echo.etap is encrypted", "add -d")


def test_decryptOfAPlainFileSaysDropD(work: Path) -> None:
    convert(work, "-i", "echo.tac", "-o", "echo.tap")
    done = tapconvertProcess(work, "-i", "echo.tap", "-o", "x.tas", "-d", passphrase="pw")
    assertOneLineError(done, "echo.tap is not encrypted: drop -d")


def test_noPassphraseAndNoTerminal(work: Path) -> None:
    done = tapconvertProcess(work, "-i", "echo.tac", "-o", "x.etap", "-e")
    assertOneLineError(
        done, "no passphrase given", "$TORSION_NEW_PASSPHRASE or $TORSION_PASSPHRASE"
    )


def test_missingInputIsOneLine(work: Path) -> None:
    done = tapconvertProcess(work, "-i", "gone.tap", "-o", "x.tas")
    assertOneLineError(done, "cannot read gone.tap: No such file or directory")


def test_wrongFormIsOneLine(work: Path) -> None:
    convert(work, "-i", "echo.tac", "-o", "echo.tas")
    done = tapconvertProcess(work, "-i", "echo.tas", "-f", "pickle", "-o", "x.tax")
    assertOneLineError(done, "echo.tas is not a valid pickle (.tap) file")
    done = tapconvertProcess(work, "-i", "echo.tas", "-f", "xml", "-o", "x.tap")
    assertOneLineError(done, "echo.tas, line 1: not well-formed XML")


def test_unknownInputExtensionAsksForF(work: Path) -> None:
    (work / "echo.txt").write_text("app = 1\n")
    done = tapconvertProcess(work, "-i", "echo.txt", "-o", "x.tap")
    assertOneLineError(done, "cannot tell the format of echo.txt", "-f")


def test_brokenTacIsOneLine(work: Path) -> None:
    (work / "broken.tac").write_text("application = (\n")
    done = tapconvertProcess(work, "-i", "broken.tac", "-o", "x.tap")
    assertOneLineError(done, "broken.tac, line 1:")


def test_unsaveableApplicationIsOneLine(work: Path) -> None:
    (work / "local.tac").write_text("class Here:\n    pass\n\napplication = Here()\n")
    done = tapconvertProcess(work, "-i", "local.tac", "-o", "x.tas")
    assertOneLineError(done, "cannot save", ".tac file")


def test_unwritableOutputIsOneLine(work: Path) -> None:
    done = tapconvertProcess(work, "-i", "echo.tac", "-o", "no/such/dir/x.tap")
    assertOneLineError(done, "cannot write no/such/dir/x.tap")


def test_usageErrorsExitWithTwo(work: Path) -> None:
    done = tapconvertProcess(work, "-o", "x.tap")
    assert done.returncode == 2
    assert "the following arguments are required: -i/--in" in done.stderr
    done = tapconvertProcess(work, "-i", "echo.tac", "-o", "x", "-t", "yaml")
    assert done.returncode == 2 and "invalid choice: 'yaml'" in done.stderr


def test_runInProcessReturnsTheStatus(
    work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(work)
    monkeypatch.syspath_prepend(str(ROOT))
    assert tapconvert.run(["-i", "echo.tac", "-o", "echo.tax"]) == 0
    assert sob.load("echo.tax", "xml").name == "echo"
    assert tapconvert.run(["-i", "gone.tas", "-o", "x.tap"]) == 1
    assert capsys.readouterr().err == (
        "tapconvert: error: cannot read gone.tas: No such file or directory\n"
    )


# -- asking on a terminal ------------------------------------------------------------------


def _readUntil(fd: int, marker: bytes, seen: bytearray, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while marker not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {marker!r} from tapconvert; saw {bytes(seen)!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                chunk = b""
            assert chunk, f"tapconvert closed the terminal; saw {bytes(seen)!r}"
            seen.extend(chunk)


def _takeTerminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_passphraseIsAskedTwiceOnTheTerminal(work: Path) -> None:
    master, slave = os.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORSION_")}
    env["PYTHONPATH"] = str(ROOT)
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "torsion.scripts.tapconvert",
            "-i",
            "echo.tac",
            "-o",
            "echo.etas",
            "-e",
        ],
        cwd=work,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=_takeTerminal,
    )
    os.close(slave)
    seen = bytearray()
    try:
        _readUntil(master, b"Passphrase for echo.etas: ", seen)
        os.write(master, b"typed secret\n")
        _readUntil(master, b"Again, to confirm: ", seen)
        os.write(master, b"typed secret\n")
        assert child.wait(timeout=30) == 0, bytes(seen)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(master)
    assert b"typed secret" not in seen  # not echoed
    assert sob.load(str(work / "echo.etas"), "source", "typed secret").name == "echo"
