"""FTPShell and FTPAnonymousShell over a temporary directory, without the protocol."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from torsion.internet import defer
from torsion.protocols import ftp


def result(d: defer.Deferred[Any]) -> Any:
    out: list[Any] = []
    d.addBoth(out.append)
    assert out, "the shell's Deferreds fire at once"
    if hasattr(out[0], "raiseException"):
        out[0].raiseException()
    return out[0]


@pytest.fixture
def shell(tmp_path: Path) -> ftp.FTPShell:
    (tmp_path / "a.txt").write_bytes(b"abc")
    (tmp_path / "dir").mkdir()
    return ftp.FTPShell(tmp_path)


def test_statAndList(shell: ftp.FTPShell) -> None:
    assert result(shell.stat(["a.txt"], ("size", "directory"))) == [3, False]
    entries = result(shell.list([], ("directory", "permissions")))
    assert [(name, values[0]) for name, values in entries] == [("a.txt", False), ("dir", True)]
    assert stat.S_ISDIR(entries[1][1][1])
    with pytest.raises(ValueError, match="unknown stat key"):
        result(shell.stat(["a.txt"], ("colour",)))


def test_missingAndWrongKinds(shell: ftp.FTPShell) -> None:
    with pytest.raises(ftp.FileNotFoundError):
        result(shell.stat(["nothing"]))
    with pytest.raises(ftp.IsADirectoryError):
        result(shell.openForReading(["dir"]))
    with pytest.raises(ftp.IsADirectoryError):
        result(shell.removeFile(["dir"]))
    with pytest.raises(ftp.PermissionDeniedError):
        result(shell.access(["a.txt"]))
    with pytest.raises(ftp.FileExistsError):
        result(shell.makeDirectory(["dir"]))
    with pytest.raises(ftp.PermissionDeniedError, match="root"):
        result(shell.removeDirectory([]))
    with pytest.raises(ftp.FTPCmdError):
        result(shell.rename(["a.txt"], ["dir"]))


def test_writeAtOffsetAndAppend(shell: ftp.FTPShell, tmp_path: Path) -> None:
    writer = result(shell.openForWriting(["a.txt"], offset=1))
    result(writer.receive()).write(b"XY")
    result(writer.close())
    assert (tmp_path / "a.txt").read_bytes() == b"aXY"
    appender = result(shell.openForWriting(["a.txt"], append=True))
    result(appender.receive()).write(b"++")
    result(appender.close())
    assert (tmp_path / "a.txt").read_bytes() == b"aXY++"


def test_readOnlyRefusesEveryChange(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    anonymous = ftp.FTPAnonymousShell(tmp_path)
    for change in (
        lambda: anonymous.makeDirectory(["d"]),
        lambda: anonymous.removeFile(["f"]),
        lambda: anonymous.removeDirectory(["d"]),
        lambda: anonymous.rename(["f"], ["g"]),
        lambda: anonymous.openForWriting(["f"]),
    ):
        with pytest.raises(ftp.PermissionDeniedError, match="read-only"):
            result(change())
    assert (tmp_path / "f").read_bytes() == b"x"


def test_linkSwappedInIsNotFollowed(shell: ftp.FTPShell, tmp_path: Path) -> None:
    """A directory replaced by a link to the outside after login is refused."""
    outside = tmp_path.parent / (tmp_path.name + "-outside")
    outside.mkdir()
    (outside / "secret").write_bytes(b"no")
    (tmp_path / "dir").rmdir()
    (tmp_path / "dir").symlink_to(outside)
    with pytest.raises(ftp.PermissionDeniedError):
        result(shell.openForReading(["dir", "secret"]))
    with pytest.raises(ftp.PermissionDeniedError):
        result(shell.openForWriting(["dir", "planted"]))
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]


def test_rootMustExist(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a directory"):
        ftp.FTPShell(tmp_path / "missing")
