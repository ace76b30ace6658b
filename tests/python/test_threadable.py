"""Tests for torsion.python.threadable: synchronized methods, the I/O thread, init."""

from __future__ import annotations

import copy
import pickle
import threading
import time
from collections.abc import Iterator

import pytest

from torsion.python import threadable

TIMEOUT = 10.0


class Account:
    """Racy on purpose: a read-modify-write with a pause in the middle."""

    synchronized = ["deposit", "transfer"]

    def __init__(self) -> None:
        self.balance = 0
        self.inside = 0
        self.maxInside = 0

    def deposit(self, amount: int) -> int:
        self.inside += 1
        self.maxInside = max(self.maxInside, self.inside)
        balance = self.balance
        time.sleep(0.0005)
        self.balance = balance + amount
        self.inside -= 1
        return self.balance

    def transfer(self, amount: int) -> int:
        # Calls another synchronized method: the lock must be reentrant.
        return self.deposit(amount)

    def unlocked(self) -> str:
        return "free"


threadable.synchronize(Account)


def hammer(target: object, method: str, threads: int = 8, calls: int = 25) -> None:
    def work() -> None:
        for _ in range(calls):
            getattr(target, method)(1)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(TIMEOUT)
        assert not worker.is_alive()


def test_synchronizedMethodsRunOneThreadAtATime() -> None:
    account = Account()
    hammer(account, "deposit")
    assert account.balance == 8 * 25
    assert account.maxInside == 1


def test_withoutTheLockDepositsRace() -> None:
    # The unwrapped method really loses updates, so the test above means something.
    account = Account()
    unlocked = Account.deposit.__wrapped__  # type: ignore[attr-defined]

    class Unlocked:
        def deposit(self, amount: int) -> int:
            result: int = unlocked(account, amount)
            return result

    hammer(Unlocked(), "deposit")
    assert account.maxInside > 1
    assert account.balance < 8 * 25


def test_synchronizedMethodMayCallAnother() -> None:
    account = Account()
    assert account.transfer(5) == 5


def test_locksArePerInstance() -> None:
    first, second = Account(), Account()
    entered = threading.Event()
    release = threading.Event()

    class Slow(Account):
        synchronized = ["hold"]

        def hold(self) -> None:
            entered.set()
            release.wait(TIMEOUT)

    threadable.synchronize(Slow)
    slow = Slow()
    holder = threading.Thread(target=slow.hold)
    holder.start()
    try:
        assert entered.wait(TIMEOUT)
        # Another instance is not blocked by the held lock.
        assert first.deposit(1) == 1 and second.deposit(2) == 2
    finally:
        release.set()
        holder.join(TIMEOUT)


def test_wrappedMethodKeepsNameAndDoc() -> None:
    assert Account.deposit.__name__ == "deposit"
    assert Account.unlocked.__name__ == "unlocked"
    assert not hasattr(Account.unlocked, "__wrapped__")


def test_synchronizeTwiceDoesNotWrapTwice() -> None:
    wrapped = Account.__dict__["deposit"]
    threadable.synchronize(Account)
    assert Account.__dict__["deposit"] is wrapped


def test_synchronizeWorksAsDecoratorAndOnInheritedMethods() -> None:
    class Base:
        def bump(self, n: int) -> int:
            self.count = getattr(self, "count", 0) + n
            return self.count

    @threadable.synchronize
    class Child(Base):
        synchronized = ["bump"]

    assert "bump" not in Base.__dict__ or not hasattr(Base.bump, "__wrapped__")
    assert hasattr(Child.__dict__["bump"], "__wrapped__")
    assert Child().bump(3) == 3


def test_synchronizeWithoutListRaises() -> None:
    class Plain:
        pass

    with pytest.raises(TypeError, match="synchronized = "):
        threadable.synchronize(Plain)


def test_synchronizeUnknownMethodRaises() -> None:
    class Typo:
        synchronized = ["deposti"]

    with pytest.raises(AttributeError, match="'deposti'"):
        threadable.synchronize(Typo)


def test_synchronizeSlotsWithoutDictRaises() -> None:
    class Slotted:
        __slots__ = ("value",)
        synchronized = ["get"]

        def get(self) -> int:
            return 1

    with pytest.raises(TypeError, match="__dict__"):
        threadable.synchronize(Slotted)


def test_synchronizedObjectPicklesAndCopiesWithFreshLock() -> None:
    account = Account()
    account.deposit(7)  # Creates the lock in the instance.
    restored = pickle.loads(pickle.dumps(account))
    assert restored.balance == 7
    assert restored.deposit(1) == 8
    assert copy.deepcopy(account).deposit(3) == 10


def test_xlockIsReentrant() -> None:
    lock = threadable.XLock()
    with lock, lock:
        assert lock.acquire(blocking=False)
        lock.release()
    assert isinstance(pickle.loads(pickle.dumps(lock)), threadable.XLock)


@pytest.fixture
def savedIOThread() -> Iterator[None]:
    saved = threadable.ioThread
    try:
        yield
    finally:
        threadable.ioThread = saved


def test_registerAsIOThreadMarksOnlyThatThread(savedIOThread: None) -> None:
    threadable.registerAsIOThread()
    assert threadable.isInIOThread()
    assert threadable.ioThread == threadable.getThreadID() == threading.get_ident()
    seen: list[bool] = []
    other = threading.Thread(target=lambda: seen.append(threadable.isInIOThread()))
    other.start()
    other.join(TIMEOUT)
    assert seen == [False]


def test_noIOThreadUntilRegistered(savedIOThread: None) -> None:
    threadable.ioThread = None
    assert not threadable.isInIOThread()


def test_getThreadIDDiffersBetweenThreads() -> None:
    ids: list[int] = []
    other = threading.Thread(target=lambda: ids.append(threadable.getThreadID()))
    other.start()
    other.join(TIMEOUT)
    assert ids and ids[0] != threadable.getThreadID()


def test_initIsHarmlessAndThreadsCannotBeSwitchedOff() -> None:
    threadable.init()
    threadable.init(True)
    assert threadable.threaded
    with pytest.raises(RuntimeError, match="init"):
        threadable.init(False)
