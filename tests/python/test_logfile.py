"""torsion.python.logfile: LogFile rotates by size, DailyLogFile by date, safely from threads."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest

from torsion.python.logfile import DailyLogFile, LogFile


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_writesAppendAndCountTheSize(tmp_path: Path) -> None:
    (tmp_path / "app.log").write_text("old\n")
    with LogFile("app.log", str(tmp_path)) as log:
        assert log.size == 4
        log.write("new line\n")
        log.write(b"bytes too\n")
        assert log.size == 4 + 9 + 10
    assert read(tmp_path / "app.log") == "old\nnew line\nbytes too\n"


def test_rotatesOnceTheSizeIsReached(tmp_path: Path) -> None:
    with LogFile("app.log", str(tmp_path), rotateLength=10) as log:
        log.write("0123456789")  # reaches 10: the next write rotates first
        assert log.listLogs() == []
        log.write("second\n")
        assert log.listLogs() == [1]
        log.write("more than ten bytes\n")
        log.write("third\n")
        assert log.listLogs() == [1, 2]
    assert read(tmp_path / "app.log") == "third\n"
    assert read(tmp_path / "app.log.1") == "second\nmore than ten bytes\n"
    assert read(tmp_path / "app.log.2") == "0123456789"


def test_maxRotatedFilesDropsTheOldest(tmp_path: Path) -> None:
    with LogFile("app.log", str(tmp_path), rotateLength=None, maxRotatedFiles=2) as log:
        for n in range(5):
            log.write(f"generation {n}\n")
            log.rotate()
        assert log.listLogs() == [1, 2]
    assert read(tmp_path / "app.log.1") == "generation 4\n"
    assert read(tmp_path / "app.log.2") == "generation 3\n"
    assert not (tmp_path / "app.log.3").exists()
    assert read(tmp_path / "app.log") == ""


def test_noSizeRotationWhenRotateLengthIsZero(tmp_path: Path) -> None:
    with LogFile("app.log", str(tmp_path), rotateLength=0) as log:
        log.write("x" * 10000)
        log.write("y")
        assert log.listLogs() == []


def test_listLogsIgnoresOtherFiles(tmp_path: Path) -> None:
    for name in ("app.log.3", "app.log.old", "app.log.1", "other.log.2"):
        (tmp_path / name).write_text(name)
    with LogFile("app.log", str(tmp_path)) as log:
        assert log.listLogs() == [1, 3]
        assert log.getLog(3).readLines() == ["app.log.3"]
        with pytest.raises(ValueError, match="no rotated log"):
            log.getLog(2)


def test_readersReadLines(tmp_path: Path) -> None:
    with LogFile("app.log", str(tmp_path)) as log:
        for n in range(5):
            log.write(f"line {n}\n")
        reader = log.getCurrentLog()
        assert reader.readLines(3) == ["line 0\n", "line 1\n", "line 2\n"]
        assert reader.readLines() == ["line 3\n", "line 4\n"]
        assert reader.readLines() == []
        reader.close()


def test_defaultModeAppliesToNewFilesOnly(tmp_path: Path) -> None:
    with LogFile("new.log", str(tmp_path), defaultMode=0o600) as log:
        log.write("x\n")
        log.rotate()
    assert stat.S_IMODE(os.stat(tmp_path / "new.log").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "new.log.1").st_mode) == 0o600
    existing = tmp_path / "old.log"
    existing.write_text("")
    existing.chmod(0o644)
    LogFile("old.log", str(tmp_path), defaultMode=0o600).close()
    assert stat.S_IMODE(os.stat(existing).st_mode) == 0o644


def test_fromFullPath(tmp_path: Path) -> None:
    log = LogFile.fromFullPath(str(tmp_path / "full.log"), rotateLength=5)
    assert (log.name, log.directory, log.rotateLength) == ("full.log", str(tmp_path), 5)
    log.close()


def test_reopenFollowsAFileMovedAway(tmp_path: Path) -> None:
    with LogFile("app.log", str(tmp_path)) as log:
        log.write("before\n")
        os.rename(tmp_path / "app.log", tmp_path / "moved.log")
        log.reopen()
        log.write("after\n")
    assert read(tmp_path / "moved.log") == "before\n"
    assert read(tmp_path / "app.log") == "after\n"


def test_writingAfterCloseIsAnError(tmp_path: Path) -> None:
    log = LogFile("app.log", str(tmp_path))
    log.close()
    assert log.closed
    with pytest.raises(ValueError, match="is closed"):
        log.write("late\n")


def test_badMaxRotatedFiles(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LogFile("app.log", str(tmp_path), maxRotatedFiles=0)


def test_missingDirectoryIsAnOSError(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        LogFile("app.log", str(tmp_path / "nowhere"))


def test_threadsWritingWhileRotatingLoseNoLine(tmp_path: Path) -> None:
    with LogFile("app.log", str(tmp_path), rotateLength=2000) as log:

        def writer(n: int) -> None:
            for i in range(300):
                log.write(f"thread {n} line {i}\n")

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        numbers = log.listLogs()
    assert len(numbers) > 5
    lines: list[str] = []
    for path in [tmp_path / "app.log", *(tmp_path / f"app.log.{n}" for n in numbers)]:
        lines.extend(read(path).splitlines())
    assert sorted(lines) == sorted(f"thread {n} line {i}" for n in range(4) for i in range(300))


class SteppedDaily(DailyLogFile):
    """A DailyLogFile whose "today" the test sets."""

    today = (2004, 4, 24)

    def toDate(self, *when: float) -> tuple[int, int, int]:
        if when:
            return super().toDate(*when)
        return self.today


def test_dailyLogFileRotatesWhenTheDateChanges(tmp_path: Path) -> None:
    log = SteppedDaily("day.log", str(tmp_path))
    log.lastDate = (2004, 4, 24)
    log.write("saturday\n")
    SteppedDaily.today = (2004, 4, 25)
    log.write("sunday\n")
    log.write("still sunday\n")
    log.close()
    assert read(tmp_path / "day.log.2004_4_24") == "saturday\n"
    assert read(tmp_path / "day.log") == "sunday\nstill sunday\n"
    assert log.suffix((2004, 4, 24)) == "2004_4_24"


def test_dailyLogFileKeepsAnExistingDaysFile(tmp_path: Path) -> None:
    (tmp_path / "day.log.2004_4_24").write_text("kept\n")
    log = SteppedDaily("day.log", str(tmp_path))
    log.lastDate = (2004, 4, 24)
    SteppedDaily.today = (2004, 4, 25)
    log.write("sunday\n")
    log.close()
    assert read(tmp_path / "day.log.2004_4_24") == "kept\n"
    assert read(tmp_path / "day.log") == "sunday\n"


def test_dailyLogFileStartsOnTheFilesDateAndFindsLogsByTime(tmp_path: Path) -> None:
    path = tmp_path / "day.log"
    path.write_text("")
    yesterday = time.time() - 86400
    os.utime(path, (yesterday, yesterday))
    log = DailyLogFile("day.log", str(tmp_path))
    assert log.lastDate == time.localtime(yesterday)[:3]
    assert log.shouldRotate()
    log.write("today\n")
    assert (tmp_path / f"day.log.{log.suffix(yesterday)}").exists()
    assert log.getLog(time.time()).readLines() == ["today\n"]
    assert log.getLog(yesterday).readLines() == []
    with pytest.raises(ValueError, match="no log for that date"):
        log.getLog(yesterday - 86400 * 30)
    log.close()
