"""Tests for torsion.logger._file: the text file observer and its line format."""

import io
from typing import Any

from tests.logger.helpers import SEED_TIME
from torsion.logger import FileLogObserver, Logger, LogPublisher, textFileLogObserver
from torsion.python import log
from torsion.python.failure import Failure


def test_fileObserverWritesFormatterOutput() -> None:
    out = io.StringIO()
    FileLogObserver(out, lambda e: f"<{e['n']}>\n")({"n": 1})
    assert out.getvalue() == "<1>\n"


def test_fileObserverSkipsNone() -> None:
    out = io.StringIO()
    FileLogObserver(out, lambda e: None)({"n": 1})
    assert out.getvalue() == ""


def test_textLineLooksLikeTheSeeds(cest: None) -> None:
    out = io.StringIO()
    textFileLogObserver(out)(
        {"log_format": "hello {x}", "x": "world", "log_time": SEED_TIME, "log_system": "ctx"}
    )
    assert out.getvalue() == "2004/04/24 17:08 CEST [ctx] hello world\n"


def test_textLineUsesWinterZoneAbbreviation(cest: None) -> None:
    out = io.StringIO()
    textFileLogObserver(out)({"log_format": "x", "log_time": 1073001600.0})
    assert out.getvalue() == "2004/01/02 01:00 CET [-] x\n"


def test_textLineWithCustomTimeFormat(cest: None) -> None:
    out = io.StringIO()
    textFileLogObserver(out, timeFormat="%H:%M:%S")({"log_format": "x", "log_time": SEED_TIME})
    assert out.getvalue() == "17:08:00 [-] x\n"


def test_textLineWithoutTime() -> None:
    out = io.StringIO()
    textFileLogObserver(out, timeFormat=None)({"log_format": "x", "log_time": SEED_TIME})
    assert out.getvalue() == "[-] x\n"


def test_transportPrefixAppearsInLine(cest: None) -> None:
    class Transport:
        def logPrefix(self) -> str:
            return "EcoPerRiga,0,127.0.0.1"

    out = io.StringIO()
    logger = Logger(observer=LogPublisher(textFileLogObserver(out, timeFormat=None)))
    log.callWithLogger(Transport(), logger.info, "got {n} bytes", n=5)
    assert out.getvalue() == "[EcoPerRiga,0,127.0.0.1] got 5 bytes\n"


def test_failureTracebackFollowsOnIndentedLines() -> None:
    out = io.StringIO()
    try:
        raise ValueError("kaboom")
    except ValueError:
        failure = Failure()
    event: dict[str, Any] = {"log_format": "oops", "log_failure": failure}
    textFileLogObserver(out, timeFormat=None)(event)
    lines = out.getvalue().split("\n")
    assert lines[0] == "[-] oops"
    assert lines[1].startswith("\tTraceback")
    assert any("kaboom" in line for line in lines[2:])
    assert out.getvalue().endswith("\n")
