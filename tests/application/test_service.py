"""Tests for torsion.application.service: Service, MultiService, Process, Application."""

from __future__ import annotations

import pickle
import sys
import types
from typing import Any

import pytest
from zope.interface.verify import verifyObject

from tests.application.conftest import RecordingReactor
from torsion.application import internet, service
from torsion.internet.defer import Deferred
from torsion.internet.protocol import ServerFactory
from torsion.python import components, log
from torsion.python.failure import Failure


class Recorded(service.Service):
    """A service that writes what happens to it into a shared list."""

    def __init__(self, name: str | None, events: list[str], stopWith: Any = None) -> None:
        if name is not None:
            self.setName(name)
        self.events = events
        self.stopWith = stopWith

    def privilegedStartService(self) -> None:
        self.events.append(f"privileged {self.name}")
        super().privilegedStartService()

    def startService(self) -> None:
        self.events.append(f"start {self.name}")
        super().startService()

    def stopService(self) -> Any:
        self.events.append(f"stop {self.name}")
        super().stopService()
        if isinstance(self.stopWith, BaseException):
            raise self.stopWith
        return self.stopWith


@pytest.fixture
def loggedFailures() -> Any:
    failures: list[Any] = []

    def observer(event: dict[str, Any]) -> None:
        if event.get("isError"):
            failures.append(event)

    log.addObserver(observer)
    yield failures
    log.removeObserver(observer)


# -- Service ---------------------------------------------------------------------------


def test_serviceProvidesIService() -> None:
    assert verifyObject(service.IService, service.Service())


def test_startAndStopSetRunning() -> None:
    s = service.Service()
    assert not s.running
    s.startService()
    assert s.running
    assert s.stopService() is None
    assert not s.running


def test_setName() -> None:
    s = service.Service()
    s.setName("web")
    assert s.name == "web"
    assert "web" in repr(s)


def test_renamingAServiceWithAParentFails() -> None:
    parent = service.MultiService()
    s = service.Service()
    s.setName("a")
    s.setServiceParent(parent)
    with pytest.raises(RuntimeError, match="disownServiceParent"):
        s.setName("b")
    assert parent.getServiceNamed("a") is s


def test_setServiceParentAddsToTheParent() -> None:
    parent = service.MultiService()
    s = service.Service()
    s.setServiceParent(parent)
    assert s.parent is parent
    assert list(parent) == [s]
    assert not s.running


def test_setServiceParentStartsTheServiceIfTheParentRuns() -> None:
    events: list[str] = []
    parent = service.MultiService()
    parent.startService()
    Recorded("x", events).setServiceParent(parent)
    assert events == ["privileged x", "start x"]


def test_setServiceParentLeavesTheOldParent() -> None:
    first, second = service.MultiService(), service.MultiService()
    s = service.Service()
    s.setName("s")
    s.setServiceParent(first)
    s.setServiceParent(second)
    assert list(first) == []
    assert first.namedServices == {}
    assert second.getServiceNamed("s") is s
    assert s.parent is second


def test_setServiceParentWithADuplicateNameLeavesNoParent() -> None:
    parent = service.MultiService()
    one, two = service.Service(), service.Service()
    one.setName("same")
    two.setName("same")
    one.setServiceParent(parent)
    with pytest.raises(RuntimeError, match="same name 'same'"):
        two.setServiceParent(parent)
    assert two.parent is None
    assert list(parent) == [one]


def test_disownServiceParentReturnsTheStopResult() -> None:
    parent = service.MultiService()
    stopping: Deferred[None] = Deferred()
    events: list[str] = []
    child = Recorded("c", events, stopWith=stopping)
    child.setServiceParent(parent)
    parent.startService()
    assert child.disownServiceParent() is stopping
    assert child.parent is None
    assert events[-1] == "stop c"


def test_disownServiceParentOfAStoppedParentReturnsNone() -> None:
    parent = service.MultiService()
    child = service.Service()
    child.setServiceParent(parent)
    assert child.disownServiceParent() is None


def test_disownWithoutParentFails() -> None:
    with pytest.raises(RuntimeError, match="no parent"):
        service.Service().disownServiceParent()


class WithLive(service.Service):
    volatile = ("_live",)


def test_servicePicklesStoppedAndWithoutItsVolatileAttributes() -> None:
    s = WithLive()
    s.setName("keep")
    s._live = object()  # type: ignore[attr-defined]
    s.other = [1, 2]  # type: ignore[attr-defined]
    s.startService()
    copy = pickle.loads(pickle.dumps(s))
    assert copy.name == "keep"
    assert copy.other == [1, 2]
    assert not copy.running
    assert not hasattr(copy, "_live")
    assert s.running  # Pickling does not touch the original.


# -- MultiService ---------------------------------------------------------------------


def test_multiServiceProvidesBothInterfaces() -> None:
    m = service.MultiService()
    assert verifyObject(service.IService, m)
    assert verifyObject(service.IServiceCollection, m)


def test_childrenStartInOrderAndStopInReverseOrder() -> None:
    events: list[str] = []
    parent = service.MultiService()
    for name in "abc":
        Recorded(name, events).setServiceParent(parent)
    parent.privilegedStartService()
    parent.startService()
    assert parent.running
    d = parent.stopService()
    assert events == [
        "privileged a",
        "privileged b",
        "privileged c",
        "start a",
        "start b",
        "start c",
        "stop c",
        "stop b",
        "stop a",
    ]
    assert d.called
    assert not parent.running


def test_stopServiceWaitsForEveryChild() -> None:
    events: list[str] = []
    slow1: Deferred[str] = Deferred()
    slow2: Deferred[str] = Deferred()
    parent = service.MultiService()
    Recorded("a", events, stopWith=slow1).setServiceParent(parent)
    Recorded("b", events, stopWith=slow2).setServiceParent(parent)
    Recorded("c", events).setServiceParent(parent)
    parent.startService()
    done: list[Any] = []
    parent.stopService().addCallback(done.append)
    # Every child was asked at once; none waited for another.
    assert events[-3:] == ["stop c", "stop b", "stop a"]
    assert done == []
    slow2.callback("b done")
    assert done == []
    slow1.callback("a done")
    assert done == [[(True, None), (True, "b done"), (True, "a done")]]


def test_aChildFailingToStopIsLoggedAndTheOthersStillStop(loggedFailures: list[Any]) -> None:
    events: list[str] = []
    parent = service.MultiService()
    Recorded("a", events).setServiceParent(parent)
    Recorded("broken", events, stopWith=ValueError("cannot stop")).setServiceParent(parent)
    failing: Deferred[None] = Deferred()
    Recorded("late", events, stopWith=failing).setServiceParent(parent)
    parent.startService()
    results: list[Any] = []
    parent.stopService().addCallback(results.append)
    failing.errback(KeyError("late failure"))
    assert events[-3:] == ["stop late", "stop broken", "stop a"]
    [pairs] = results
    assert [ok for ok, _ in pairs] == [False, False, True]
    assert isinstance(pairs[0][1], Failure) and pairs[0][1].check(KeyError)
    whys = sorted(str(e["why"]) for e in loggedFailures)
    assert len(whys) == 2
    assert all("Error stopping" in why for why in whys)
    assert any("'broken'" in why for why in whys) and any("'late'" in why for why in whys)


def test_addServiceToARunningMultiServiceStartsIt() -> None:
    events: list[str] = []
    parent = service.MultiService()
    parent.startService()
    child = Recorded("x", events)
    parent.addService(child)
    assert events == ["privileged x", "start x"]
    assert child.running


def test_removeServiceFromARunningMultiServiceStopsIt() -> None:
    events: list[str] = []
    parent = service.MultiService()
    child = Recorded("x", events, stopWith="result")
    child.setServiceParent(parent)
    parent.startService()
    assert parent.removeService(child) == "result"
    assert list(parent) == []
    assert parent.namedServices == {}


def test_removeServiceThatIsNotAChildFails() -> None:
    with pytest.raises(ValueError, match="not a child"):
        service.MultiService().removeService(service.Service())


def test_getServiceNamed() -> None:
    parent = service.MultiService()
    child = service.Service()
    child.setName("db")
    child.setServiceParent(parent)
    unnamed = service.Service()
    unnamed.setServiceParent(parent)
    assert parent.getServiceNamed("db") is child
    assert list(parent) == [child, unnamed]
    with pytest.raises(KeyError, match=r"no service named 'web'.*'db'"):
        parent.getServiceNamed("web")


def test_multiServicePicklesWithItsChildrenWhileRunning() -> None:
    events: list[str] = []
    root = service.MultiService()
    root.setName("root")
    inner = service.MultiService()
    inner.setName("inner")
    inner.setServiceParent(root)
    Recorded("leaf", events).setServiceParent(inner)
    root.startService()
    copy = pickle.loads(pickle.dumps(root))
    assert not copy.running
    innerCopy = copy.getServiceNamed("inner")
    leafCopy = innerCopy.getServiceNamed("leaf")
    assert innerCopy.parent is copy and leafCopy.parent is innerCopy
    assert not innerCopy.running and not leafCopy.running
    leafCopy.events = []
    copy.startService()
    assert leafCopy.events == ["start leaf"]


def test_multiServicePrivilegedStartBindsItsServers(fakeReactor: RecordingReactor) -> None:
    parent = service.MultiService()
    factory = ServerFactory()
    internet.TCPServer(80, factory, reactor=fakeReactor).setServiceParent(parent)
    parent.privilegedStartService()
    # Bound before startService, i.e. before torsiond drops privileges.
    assert fakeReactor.calls == [("listenTCP", (80, factory), {})]
    parent.startService()
    assert len(fakeReactor.calls) == 1


# -- Process ---------------------------------------------------------------------------


def test_process() -> None:
    p = service.Process()
    assert verifyObject(service.IProcess, p)
    assert (p.uid, p.gid, p.processName) == (None, None, None)
    p = service.Process(501, 20)
    assert (p.uid, p.gid) == (501, 20)


# -- Application -----------------------------------------------------------------------


def test_applicationComponents(sob: types.ModuleType) -> None:
    application = service.Application("echo", uid=501, gid=502)
    assert isinstance(application, components.Componentized)
    multi = service.IService(application)
    assert isinstance(multi, service.MultiService)
    assert multi.name == "echo"
    assert service.IServiceCollection(application) is multi
    process = service.IProcess(application)
    assert (process.uid, process.gid) == (501, 502)
    persistent = sob.IPersistable(application)
    assert isinstance(persistent, sob.Persistent)
    assert persistent.original is application


def test_applicationDefaultsToTheProcessIds(sob: types.ModuleType) -> None:
    process = service.IProcess(service.Application("x"))
    assert (process.uid, process.gid) == (None, None)


def test_servicesJoinAnApplication(sob: types.ModuleType) -> None:
    application = service.Application("app")
    events: list[str] = []
    Recorded("a", events).setServiceParent(application)
    top = service.IService(application)
    assert top.getServiceNamed("a").parent is top
    top.privilegedStartService()
    top.startService()
    assert events == ["privileged a", "start a"]


def test_applicationPicklesWhileRunning(sob: types.ModuleType, fakeReactor: Any) -> None:
    application = service.Application("echo")
    factory = ServerFactory()
    server = internet.TCPServer(7, factory, reactor=fakeReactor)
    server.setServiceParent(application)
    service.IService(application).startService()
    copy = pickle.loads(pickle.dumps(application))
    top = service.IService(copy)
    assert top.name == "echo" and not top.running
    [serverCopy] = list(top)
    assert isinstance(serverCopy, internet.TCPServer)
    assert serverCopy.args[0] == 7 and serverCopy._port is None
    assert sob.IPersistable(copy).original is copy
    assert service.IProcess(copy).uid is None


def test_applicationWithoutSobSaysWhatIsMissing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torsion.persisted.sob", None)
    package = sys.modules.get("torsion.persisted")
    if package is not None:
        monkeypatch.delattr(package, "sob", raising=False)
    with pytest.raises(ImportError, match=r"needs torsion\.persisted\.sob"):
        service.Application("x")


def test_realSobSavesAnApplication(tmp_path: Any) -> None:
    sob = pytest.importorskip("torsion.persisted.sob")
    application = service.Application("saved")
    sob.IPersistable(application).save(filename=str(tmp_path / "saved.tap"))
    assert (tmp_path / "saved.tap").exists()


def test_maybeDeferredOfAChildStopIsUsed() -> None:
    """A child whose stopService returns a plain value still counts as stopped."""
    parent = service.MultiService()
    Recorded("v", [], stopWith="plain").setServiceParent(parent)
    parent.startService()
    results: list[Any] = []
    parent.stopService().addCallback(results.append)
    assert results == [[(True, "plain")]]
