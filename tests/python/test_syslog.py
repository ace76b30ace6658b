"""torsion.python.syslog: events become syslog(3) messages, one per line, at their level."""

from __future__ import annotations

import syslog as stdlib_syslog
from typing import Any

import pytest

from torsion.logger import LogLevel
from torsion.python import syslog


class FakeSyslog:
    """Records what would go to the system log."""

    LOG_USER = stdlib_syslog.LOG_USER
    LOG_DAEMON = stdlib_syslog.LOG_DAEMON
    LOG_PID = stdlib_syslog.LOG_PID

    def __init__(self) -> None:
        self.opened: list[tuple[str, int, int]] = []
        self.messages: list[tuple[int, str]] = []
        for name in ("LOG_DEBUG", "LOG_INFO", "LOG_WARNING", "LOG_ERR", "LOG_CRIT", "LOG_ALERT"):
            setattr(self, name, getattr(stdlib_syslog, name))

    def openlog(self, ident: str, options: int, facility: int) -> None:
        self.opened.append((ident, options, facility))

    def syslog(self, priority: int, message: str) -> None:
        self.messages.append((priority, message))


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeSyslog:
    recorder = FakeSyslog()
    monkeypatch.setattr(syslog, "_syslog", recorder)
    return recorder


def event(**kw: Any) -> dict[str, Any]:
    made: dict[str, Any] = {"message": ("hello",), "isError": 0, "system": "-", "time": 0.0}
    made.update(kw)
    return made


def test_opensTheLogWithThePrefix(fake: FakeSyslog) -> None:
    syslog.SyslogObserver("mydaemon", fake.LOG_PID, fake.LOG_DAEMON)
    assert fake.opened == [("mydaemon", fake.LOG_PID, fake.LOG_DAEMON)]


def test_eachLineIsAMessageWithTheSystem(fake: FakeSyslog) -> None:
    observer = syslog.SyslogObserver("torsion")
    observer.emit(event(message=("first\nsecond",), system="EcoPerRiga,0,127.0.0.1"))
    info = stdlib_syslog.LOG_INFO | stdlib_syslog.LOG_USER
    assert fake.messages == [
        (info, "[EcoPerRiga,0,127.0.0.1] first"),
        (info, "[EcoPerRiga,0,127.0.0.1] second"),
    ]


@pytest.mark.parametrize(
    ("level", "priority"),
    [
        (LogLevel.debug, stdlib_syslog.LOG_DEBUG),
        (LogLevel.info, stdlib_syslog.LOG_INFO),
        (LogLevel.warn, stdlib_syslog.LOG_WARNING),
        (LogLevel.error, stdlib_syslog.LOG_ERR),
        (LogLevel.critical, stdlib_syslog.LOG_CRIT),
    ],
)
def test_priorityFollowsTheLevel(fake: FakeSyslog, level: LogLevel, priority: int) -> None:
    syslog.SyslogObserver("torsion", facility=stdlib_syslog.LOG_DAEMON).emit(event(log_level=level))
    assert fake.messages == [(priority | stdlib_syslog.LOG_DAEMON, "[-] hello")]


def test_classicErrorsAreCriticalAndAPriorityCanBeGiven(fake: FakeSyslog) -> None:
    observer = syslog.SyslogObserver("torsion")
    observer.emit(event(isError=1))
    observer.emit(event(syslogPriority=stdlib_syslog.LOG_ALERT))
    assert [p & 7 for p, _ in fake.messages] == [stdlib_syslog.LOG_CRIT, stdlib_syslog.LOG_ALERT]


def test_eventsWithoutTextAreSkipped(fake: FakeSyslog) -> None:
    syslog.SyslogObserver("torsion").emit(event(message=()))
    assert fake.messages == []


def test_noSyslogModuleIsAnImportError(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syslog, "_syslog", None)
    with pytest.raises(ImportError, match="no syslog"):
        syslog.SyslogObserver("torsion")
