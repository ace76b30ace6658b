"""``torsiond pb``: a shared key/value store served over Perspective Broker.

    torsiond -n pb                                     # tcp:8789 on 127.0.0.1; anyone may use it
    torsiond -n pb --auth memory:alice:secret:bob:hunter2          # only these two users
    torsiond -n pb --auth file:pb.passwd --auth anonymous          # and read-only visitors
    torsiond -n pb --listen tcp:8789:interface=127.0.0.1 --listen unix:/run/kv.sock
    torsion mktap pb --auth memory:alice:secret && torsiond -n -f pb.tap

A client logs in (``PBClientFactory.login``) and gets a perspective whose methods are
``get``, ``set``, ``delete``, ``keys``, ``whoami`` and ``store``. ``store`` sends a
copy of the whole store that stays up to date: the store is a Cacheable, and every
change made by anyone reaches each client holding a copy (``RemoteKeyValueStore``
here, registered for the store's wire name; its ``watch`` method says when). So a few
lines of client make a live dashboard or a shared configuration; examples/pb/kvclient.py
is one, and docs/pb-plugin.md walks through it.

Who may log in is ``--auth`` (torsion.cred.strcred: ``memory:``, ``file:``,
``anonymous``, ...). Without ``--auth`` everyone logs in anonymously and may write;
with accounts named, only they may, and anonymous visitors (when ``--auth anonymous``
lets them in at all) may only read. A client logs in with Twisted's challenge (the
password never travels; the checker must know the password: ``memory:``, or a
``file:`` of plain passwords) or, for a ``file:`` of argon2/scrypt/bcrypt hashes
(``torsion passwd``), with the password itself, which the server takes only over TLS
(an ``ssl:`` endpoint) unless ``--allow-password-without-tls``. The default endpoint is
port 8789 of this machine only (Twisted's PB port is 8787): give ``--listen
tcp:8789`` (or better ``ssl:8789:...``) to serve other machines.
Limits: keys are non-empty text of at most ``MAX_KEY_LENGTH`` characters, values what
PB's default security lets through (numbers, text, bytes, lists, tuples, dicts, sets,
None, booleans, dates), and the store holds at most ``--max-keys`` keys. Everything
made is picklable (``torsion mktap pb``), the store's contents included, its live
observers not.

Tests: tests/spread/test_pbplugin.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from torsion.application import service, strports
from torsion.application.service import IService
from torsion.cred import checkers, credentials, portal, strcred
from torsion.logger import Logger
from torsion.python import usage
from torsion.spread import pb

__all__ = [
    "DEFAULT_LISTEN",
    "MAX_KEY_LENGTH",
    "KeyValueError",
    "KeyValueRealm",
    "KeyValueStore",
    "KeyValueUser",
    "Options",
    "RemoteKeyValueStore",
    "makeService",
]

DEFAULT_LISTEN = "tcp:8789:interface=127.0.0.1"
DEFAULT_MAX_KEYS = 10_000
MAX_KEY_LENGTH = 256

_log = Logger(namespace="torsion.tap.pb")


class KeyValueError(pb.Error):
    """A request the store refuses; it reaches the client with this message."""


def _checkKey(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise KeyValueError(f"a key is non-empty text, not {key!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise KeyValueError(f"a key has at most {MAX_KEY_LENGTH} characters, not {len(key)}")
    return key


class KeyValueStore(pb.Cacheable):
    """The shared store; each client's copy hears every change (``observe_set``/``_delete``).

    Observers are live references to connected clients: they are not saved when the
    store is pickled, and a client that disconnects stops observing (PB calls
    ``stoppedObserving``).
    """

    def __init__(self, maxKeys: int = DEFAULT_MAX_KEYS) -> None:
        self.data: dict[str, Any] = {}
        self.maxKeys = maxKeys
        self.observers: list[Any] = []

    def __getstate__(self) -> dict[str, Any]:
        return {"data": dict(self.data), "maxKeys": self.maxKeys}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.data = dict(state["data"])
        self.maxKeys = state["maxKeys"]
        self.observers = []

    def getStateToCacheAndObserveFor(self, perspective: Any, observer: Any) -> Any:
        self.observers.append(observer)
        return dict(self.data)

    def stoppedObserving(self, perspective: Any, observer: Any) -> None:
        if observer in self.observers:
            self.observers.remove(observer)

    def set(self, key: str, value: Any, by: str) -> None:
        """Store ``value`` under ``key`` and tell every observer who changed it."""
        _checkKey(key)
        if key not in self.data and len(self.data) >= self.maxKeys:
            raise KeyValueError(
                f"the store is full ({self.maxKeys} keys): delete some, or start the "
                "server with a larger --max-keys"
            )
        self.data[key] = value
        self._tell("set", key, value, by)

    def delete(self, key: str, by: str) -> bool:
        """Remove ``key``; whether it was there."""
        _checkKey(key)
        if key not in self.data:
            return False
        del self.data[key]
        self._tell("delete", key, by)
        return True

    def _tell(self, what: str, *args: Any) -> None:
        for observer in list(self.observers):
            d = observer.callRemote(what, *args)
            d.addErrback(self._observerFailed, observer)

    def _observerFailed(self, reason: Any, observer: Any) -> None:
        # A client gone mid-update is normal (PB detaches it); anything else is a bug.
        if reason.check(pb.DeadReferenceError, pb.PBConnectionLost) is None:
            _log.failure("telling an observer of the store failed", reason)


class RemoteKeyValueStore(pb.RemoteCache):
    """A client's live copy of the store: ``data`` is always the latest known state.

    ``watch(callback)`` calls ``callback(what, key, value, by)`` on each change
    (``what`` is "set" or "delete", ``value`` None for a delete).
    """

    data: dict[str, Any]

    def setCopyableState(self, state: Any) -> None:
        self.data = dict(state)
        self._watchers: list[Callable[[str, str, Any, str], object]] = []

    def watch(self, callback: Callable[[str, str, Any, str], object]) -> None:
        self._watchers.append(callback)

    def observe_set(self, key: str, value: Any, by: str) -> None:
        self.data[key] = value
        for callback in list(self._watchers):
            callback("set", key, value, by)

    def observe_delete(self, key: str, by: str) -> None:
        self.data.pop(key, None)
        for callback in list(self._watchers):
            callback("delete", key, None, by)


pb.setUnjellyableForClass(KeyValueStore, RemoteKeyValueStore)


class KeyValueUser(pb.Avatar):
    """What one logged-in client may do with the store."""

    def __init__(self, name: str, store: KeyValueStore, mayWrite: bool) -> None:
        self.name = name
        self.store = store
        self.mayWrite = mayWrite

    def perspective_whoami(self) -> list[Any]:
        """This client's name and whether it may write: ``[name, mayWrite]``."""
        return [self.name, self.mayWrite]

    def perspective_get(self, key: str, default: Any = None) -> Any:
        return self.store.data.get(_checkKey(key), default)

    def perspective_keys(self) -> list[str]:
        return sorted(self.store.data)

    def perspective_store(self) -> KeyValueStore:
        """The whole store, as a copy that every later change keeps up to date."""
        return self.store

    def _mustWrite(self) -> None:
        if not self.mayWrite:
            raise KeyValueError(f"{self.name} may only read this store: log in to write")

    def perspective_set(self, key: str, value: Any) -> None:
        self._mustWrite()
        self.store.set(key, value, self.name)

    def perspective_delete(self, key: str) -> bool:
        self._mustWrite()
        return self.store.delete(key, self.name)


@implementer(portal.IRealm)
class KeyValueRealm:
    """Gives each login a ``KeyValueUser`` on the one store.

    Args:
        store: the shared store.
        anonymousMayWrite: whether anonymous logins may change it (True when the
            server names no accounts, so that it is usable at all).
    """

    def __init__(self, store: KeyValueStore, anonymousMayWrite: bool) -> None:
        self.store = store
        self.anonymousMayWrite = anonymousMayWrite

    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        if pb.IPerspective not in interfaces:
            raise NotImplementedError("the key/value store only offers PB perspectives")
        if avatarId is checkers.ANONYMOUS or avatarId == checkers.ANONYMOUS:
            user = KeyValueUser("anonymous", self.store, self.anonymousMayWrite)
        else:
            name = avatarId.decode("utf-8", "replace") if isinstance(avatarId, bytes) else avatarId
            user = KeyValueUser(str(name), self.store, True)
        return pb.IPerspective, user, lambda: None


class Options(usage.Options, strcred.AuthOptionMixin, strports.ListenOptionMixin):
    """The options of the pb plugin."""

    defaultListen = DEFAULT_LISTEN

    synopsis = "[--listen DESCRIPTION ...] [--auth TYPE:ARGS ...] [--max-keys N]"
    longdesc = (
        "Serves a shared key/value store over Perspective Broker: clients log in, read "
        "and write keys, and may hold a live copy of the whole store that every change "
        "updates. --listen takes an endpoint description and may be given several times "
        f"(default {DEFAULT_LISTEN}: this machine only). --auth says who may log in "
        "(see --help-auth); without it everyone may, anonymously, and may write."
    )
    supportedInterfaces = (
        credentials.IUsernamePassword,
        credentials.IUsernameHashedPassword,
        credentials.IAnonymous,
    )
    optFlags = [
        [
            "allow-password-without-tls",
            None,
            "Accept password logins (PBClientFactory.login(..., sendPassword=True), which "
            "a password file of argon2/scrypt/bcrypt hashes needs) on connections that are "
            "not TLS. The password then travels readable: for this machine or tests only.",
        ],
    ]
    optParameters = [
        [
            "max-keys",
            None,
            DEFAULT_MAX_KEYS,
            "The most keys the store holds.",
            usage.countCoerce("keys", "key"),
        ],
    ]

    def __init__(self) -> None:
        super().__init__()

    def postOptions(self) -> None:
        """Check the endpoint descriptions now, so that a typo is a usage error."""

        self.checkListen()


def makePortal(options: Any, store: KeyValueStore) -> portal.Portal:
    """The Portal of ``--auth``'s checkers (anonymous access alone when none was given)."""
    given = list(options.get("credCheckers") or [])
    named = [c for c in given if not isinstance(c, checkers.AllowAnonymousAccess)]
    realm = KeyValueRealm(store, anonymousMayWrite=not named)
    return portal.Portal(realm, given or [checkers.AllowAnonymousAccess()])


def makeService(options: Any) -> IService:
    """A MultiService with one listening service per --listen, sharing one store."""
    store = KeyValueStore(int(options["max-keys"]))
    factory = pb.PBServerFactory(
        makePortal(options, store),
        allowPasswordWithoutTLS=bool(options["allow-password-without-tls"]),
    )
    made = service.MultiService()
    for description in options["listen"]:
        strports.service(description, factory).setServiceParent(made)
    return made
