"""The ssh-userauth service (RFC 4252, 4256): logging in, on the server through a Cred
portal and on the client through overridable callbacks (torsion.conch.ssh.userauth).

Server: `SSHUserAuthServer` offers the methods its portal has checkers for:
"publickey" (ISSHPrivateKey: a key may be offered unsigned first and is then
answered PK_OK; the signature covers the session ID, so it cannot be replayed on
another connection), "password" (IUsernamePassword) and "keyboard-interactive"
(also IUsernamePassword: one "Password: " prompt, which is what OpenSSH clients
expect from a PAM server). Each failure is answered after ``passwordDelay`` seconds
for passwords (slowing guessing), and after ``attemptsBeforeDisconnect`` failures
the client is disconnected. A successful login starts the requested next service
(ssh-connection) with the avatar in ``transport.avatar``.

Client: `SSHUserAuthClient(user, instance)` tries the server's methods in
``preferredOrder``, asking ``getPublicKey``/``getPrivateKey``, ``getPassword`` and
``getGenericAnswers`` (each may return a Deferred). Unlike Twisted's, each method is
tried a bounded number of times: when nothing is left to try, it sets ``failed`` and
disconnects (no more authentication methods) instead of asking again forever
(torsion.conch.endpoints turns that into AuthenticationFailed).
Tests: tests/conch/test_userauth.py (in memory) and the OpenSSH tests of the
connection layer.
"""

from __future__ import annotations

import struct
from typing import Any

from torsion.conch import error
from torsion.conch.interfaces import IConchUser
from torsion.conch.ssh import service, transport
from torsion.conch.ssh.common import NS, getNS
from torsion.conch.ssh.keys import Key
from torsion.cred import credentials
from torsion.cred.error import UnauthorizedLogin, UnhandledCredentials
from torsion.internet import defer
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = ["SSHUserAuthClient", "SSHUserAuthServer"]

_log = Logger()

MSG_USERAUTH_REQUEST = 50
MSG_USERAUTH_FAILURE = 51
MSG_USERAUTH_SUCCESS = 52
MSG_USERAUTH_BANNER = 53
MSG_USERAUTH_PK_OK = 60  # also MSG_USERAUTH_INFO_REQUEST (keyboard-interactive)
MSG_USERAUTH_INFO_REQUEST = 60
MSG_USERAUTH_INFO_RESPONSE = 61
_U32 = struct.Struct("!L")
_MAX_PROMPTS = 16


def _signedData(
    sessionID: bytes, user: bytes, service: bytes, algorithm: bytes, blob: bytes
) -> bytes:
    """What a publickey login signs (RFC 4252 section 7)."""
    return (
        NS(sessionID)
        + bytes((MSG_USERAUTH_REQUEST,))
        + NS(user)
        + NS(service)
        + NS(b"publickey")
        + b"\x01"
        + NS(algorithm)
        + NS(blob)
    )


class SSHUserAuthServer(service.SSHService):
    """The server side of ssh-userauth; its portal is ``transport.factory.portal``."""

    name = b"ssh-userauth"
    protocolMessages = {
        MSG_USERAUTH_REQUEST: "USERAUTH_REQUEST",
        MSG_USERAUTH_INFO_RESPONSE: "USERAUTH_INFO_RESPONSE",
    }
    attemptsBeforeDisconnect = 20
    passwordDelay = 1.0
    interfaceToMethod = {
        credentials.ISSHPrivateKey: b"publickey",
        credentials.IUsernamePassword: b"password",
    }

    def serviceStarted(self) -> None:
        self.authenticatedWith: list[bytes] = []
        self.loginAttempts = 0
        self.user: bytes | None = None
        self.nextService: bytes | None = None
        self.portal = self.transport.factory.portal
        self.supportedAuthentications: list[bytes] = []
        for interface in self.portal.listCredentialsInterfaces():
            method = self.interfaceToMethod.get(interface)
            if method is not None and method not in self.supportedAuthentications:
                self.supportedAuthentications.append(method)
                if method == b"password":
                    self.supportedAuthentications.append(b"keyboard-interactive")
        self._pending: defer.Deferred[Any] | None = None
        self._interactive: defer.Deferred[bytes] | None = None
        self._delayed: Any = None

    def serviceStopped(self) -> None:
        if self._delayed is not None and self._delayed.active():
            self._delayed.cancel()
        if self._pending is not None:
            self._pending.cancel()

    @property
    def clock(self) -> Any:
        clock = getattr(self.transport, "clock", None)
        if clock is None:
            from torsion.internet import reactor as clock
        return clock

    def ssh_USERAUTH_REQUEST(self, packet: bytes) -> None:
        if self._interactive is not None:
            # A new request abandons keyboard-interactive prompts (RFC 4256 section 3.4).
            self._interactive = self._pending = None
        elif self._pending is not None:
            # RFC 4252 allows one request at a time; a client that pipelines is refused.
            self.transport.sendDisconnect(
                transport.DISCONNECT_PROTOCOL_ERROR, "a login request while one is checked"
            )
            return
        user, nextService, method, rest = getNS(packet, 3)
        if user != self.user or nextService != self.nextService:
            self.authenticatedWith = []
        self.user, self.nextService = user, nextService
        if method != b"none" and method not in self.supportedAuthentications:
            self._fail(Failure(UnauthorizedLogin(f"no method {method!r}")))
            return
        if method == b"none":
            self._sendFailure()
            return
        handler = getattr(self, "auth_" + method.decode("ascii").replace("-", "_"))
        d = defer.maybeDeferred(handler, rest)
        self._pending = d
        d.addBoth(self._settled, d)
        d.addErrback(self._bug)

    def _settled(self, result: Any, attempt: defer.Deferred[Any]) -> None:
        if attempt is not self._pending:
            return  # abandoned by a newer request
        self._pending = None
        if isinstance(result, Failure):
            self._fail(result)
        else:
            self._loggedIn(result)

    def _bug(self, reason: Failure) -> None:
        _log.failure("ssh-userauth: login failed unexpectedly", reason)
        self.transport.sendDisconnect(transport.DISCONNECT_BY_APPLICATION, "internal error")

    def _loggedIn(self, result: tuple[Any, Any, Any]) -> None:
        _, avatar, logout = result
        serviceClass = self.transport.factory.getService(self.transport, self.nextService)
        if serviceClass is None:
            logout()
            self.transport.sendDisconnect(
                transport.DISCONNECT_SERVICE_NOT_AVAILABLE,
                f"no service {self.nextService!r} after login",
            )
            return
        _log.info(
            "{user} logged in with {method}",
            user=(self.user or b"").decode("utf-8", "replace"),
            method=getattr(self, "_method", b"?").decode(),
        )
        self.transport.avatar = avatar
        self.transport.logoutFunction = logout
        self.transport.sendPacket(MSG_USERAUTH_SUCCESS, b"")
        self.transport.setService(serviceClass())

    def _fail(self, reason: Failure) -> None:
        if reason.check(error.IgnoreAuthentication):
            return
        if reason.check(error.NotEnoughAuthentication):
            self.authenticatedWith.append(getattr(self, "_method", b""))
            self._sendFailure(partial=True)
            return
        if not reason.check(UnauthorizedLogin, UnhandledCredentials):
            raise reason.value  # a bug in a checker or realm: _bug reports it
        self.loginAttempts += 1
        _log.info(
            "failed login for {user} ({why})",
            user=(self.user or b"").decode("utf-8", "replace"),
            why=reason.getErrorMessage(),
        )
        if self.loginAttempts > self.attemptsBeforeDisconnect:
            self.transport.sendDisconnect(
                transport.DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE, "too many bad logins"
            )
            return
        if getattr(self, "_method", b"") in (b"password", b"keyboard-interactive"):
            self._delayed = self.clock.callLater(self.passwordDelay, self._sendFailure)
        else:
            self._sendFailure()

    def _sendFailure(self, partial: bool = False) -> None:
        self._delayed = None
        methods = [m for m in self.supportedAuthentications if m not in self.authenticatedWith]
        self.transport.sendPacket(MSG_USERAUTH_FAILURE, NS(b",".join(methods)) + bytes((partial,)))

    def _login(self, creds: Any) -> defer.Deferred[Any]:
        login: defer.Deferred[Any] = self.portal.login(creds, None, IConchUser)
        return login

    def auth_publickey(self, packet: bytes) -> defer.Deferred[Any]:
        self._method = b"publickey"
        hasSignature = bool(packet[:1] and packet[0])
        algorithm, blob, rest = getNS(packet[1:], 2)
        assert self.user is not None and self.nextService is not None
        if hasSignature:
            signature, _ = getNS(rest)
            signed = _signedData(
                self.transport.sessionID, self.user, self.nextService, algorithm, blob
            )
            return self._login(
                credentials.SSHPrivateKey(self.user, algorithm, blob, signed, signature)
            )
        query = credentials.SSHPrivateKey(self.user, algorithm, blob, None, None)
        return self._login(query).addErrback(self._keyWouldDo, algorithm, blob)

    def _keyWouldDo(self, reason: Failure, algorithm: bytes, blob: bytes) -> Failure:
        if reason.check(error.ValidPublicKey):
            self.transport.sendPacket(MSG_USERAUTH_PK_OK, NS(algorithm) + NS(blob))
            return Failure(error.IgnoreAuthentication())
        return reason

    def auth_password(self, packet: bytes) -> defer.Deferred[Any]:
        self._method = b"password"
        password, _ = getNS(packet[1:])
        assert self.user is not None
        return self._login(credentials.UsernamePassword(self.user, password))

    def auth_keyboard_interactive(self, packet: bytes) -> defer.Deferred[Any]:
        self._method = b"keyboard-interactive"
        self._interactive = defer.Deferred()
        request = NS(b"") + NS(b"") + NS(b"") + _U32.pack(1) + NS(b"Password: ") + b"\x00"
        self.transport.sendPacket(MSG_USERAUTH_INFO_REQUEST, request)
        user = self.user
        assert user is not None
        return self._interactive.addCallback(
            lambda password: self._login(credentials.UsernamePassword(user, password))
        )

    def ssh_USERAUTH_INFO_RESPONSE(self, packet: bytes) -> None:
        answer, self._interactive = self._interactive, None
        if answer is None:
            self.transport.sendDisconnect(
                transport.DISCONNECT_PROTOCOL_ERROR, "an INFO_RESPONSE nobody asked for"
            )
            return
        (count,) = _U32.unpack_from(packet) if len(packet) >= 4 else (0,)
        if count != 1:
            answer.errback(UnauthorizedLogin("keyboard-interactive: one answer was expected"))
            return
        password, _ = getNS(packet[4:])
        answer.callback(password)


class SSHUserAuthClient(service.SSHService):
    """The client side of ssh-userauth: logs in as ``user``, then starts ``instance``."""

    name = b"ssh-userauth"
    protocolMessages = {
        MSG_USERAUTH_FAILURE: "USERAUTH_FAILURE",
        MSG_USERAUTH_SUCCESS: "USERAUTH_SUCCESS",
        MSG_USERAUTH_BANNER: "USERAUTH_BANNER",
        MSG_USERAUTH_PK_OK: "USERAUTH_PK_OK",
    }
    preferredOrder = [b"publickey", b"password", b"keyboard-interactive"]
    maxPasswordAttempts = 1  # how often getPassword is asked before password is given up

    def __init__(self, user: bytes, instance: Any) -> None:
        self.user = user
        self.instance = instance

    def serviceStarted(self) -> None:
        self.authenticatedWith: list[bytes] = []
        self.triedPublicKeys: list[bytes] = []
        self.lastPublicKey: Key | None = None
        self.passwordAttempts = 0
        self.interactiveAttempts = 0
        self.lastAuth = b""
        self.failed = False  # true once every method was tried and refused
        self.askForAuth(b"none", b"")

    def askForAuth(self, kind: bytes, extraData: bytes) -> None:
        self.lastAuth = kind
        self.transport.sendPacket(
            MSG_USERAUTH_REQUEST, NS(self.user) + NS(self.instance.name) + NS(kind) + extraData
        )

    def ssh_USERAUTH_SUCCESS(self, packet: bytes) -> None:
        self.transport.setService(self.instance)

    def ssh_USERAUTH_BANNER(self, packet: bytes) -> None:
        message, _, _ = getNS(packet, 2)
        _log.info("server banner: {banner}", banner=message.decode("utf-8", "replace"))

    def ssh_USERAUTH_FAILURE(self, packet: bytes) -> None:
        methods, rest = getNS(packet)
        if rest[:1] == b"\x01":
            self.authenticatedWith.append(self.lastAuth)
        canContinue = [m for m in methods.split(b",") if m and m not in self.authenticatedWith]
        ordered = [m for m in self.preferredOrder if m in canContinue]
        self._tryNext(iter(ordered))

    def _tryNext(self, methods: Any) -> None:
        for method in methods:
            handler = getattr(self, "auth_" + method.decode("ascii").replace("-", "_"), None)
            if handler is None:
                continue
            d = defer.maybeDeferred(handler)
            d.addCallback(self._triedOrNext, methods)
            d.addErrback(self._ebAuth)
            return
        self.noMoreMethods()

    def _triedOrNext(self, tried: bool, methods: Any) -> None:
        if not tried:
            self._tryNext(methods)

    def _ebAuth(self, reason: Failure) -> None:
        _log.failure("ssh-userauth client: a method failed", reason)
        self.noMoreMethods()

    def noMoreMethods(self) -> None:
        """Nothing is left to try: end the connection (override to do more)."""
        self.failed = True
        _log.info("no more authentication methods to try for {user}", user=self.user)
        self.transport.sendDisconnect(
            transport.DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE, "no more authentication methods"
        )

    # -- publickey -----------------------------------------------------------------------

    def getPublicKey(self) -> Any:
        """The next public Key to offer (a Key, a Deferred of one, or None: no more)."""
        return None

    def getPrivateKey(self) -> Any:
        """The private Key of the last public key offered (a Key or a Deferred)."""
        return defer.fail(NotImplementedError("getPrivateKey"))

    def signData(self, publicKey: Key, signData: bytes) -> defer.Deferred[bytes]:
        """The signature of ``signData`` with the private half of ``publicKey``."""
        algorithm = self._signatureAlgorithm(publicKey)
        return defer.maybeDeferred(self.getPrivateKey).addCallback(
            lambda private: private.sign(signData, algorithm)
        )

    def _signatureAlgorithm(self, key: Key) -> bytes:
        supported = key.supportedSignatureAlgorithms()
        advertised = self.transport.peerExtensions.get(b"server-sig-algs")
        if advertised is not None:
            offered = advertised.split(b",")
            for algorithm in supported:
                if algorithm in offered:
                    return algorithm
        return supported[-1] if key.type() == "RSA" else supported[0]

    def auth_publickey(self) -> defer.Deferred[bool]:
        d = defer.maybeDeferred(self.getPublicKey)
        return d.addCallback(self._offerKey)

    def _offerKey(self, key: Key | None) -> bool:
        if key is None:
            return False
        blob = key.blob()
        if blob in self.triedPublicKeys:
            return False
        self.triedPublicKeys.append(blob)
        self.lastPublicKey = key
        self.askForAuth(b"publickey", b"\x00" + NS(self._signatureAlgorithm(key)) + NS(blob))
        return True

    def ssh_USERAUTH_PK_OK(self, packet: bytes) -> None:
        if self.lastAuth == b"publickey":
            self._signAndSend()
        elif self.lastAuth == b"keyboard-interactive":
            self._answerPrompts(packet)

    def _signAndSend(self) -> None:
        key = self.lastPublicKey
        assert key is not None
        algorithm = self._signatureAlgorithm(key)
        blob = key.blob()
        data = _signedData(self.transport.sessionID, self.user, self.instance.name, algorithm, blob)
        d = self.signData(key, data)
        d.addCallback(
            lambda signature: self.askForAuth(
                b"publickey", b"\x01" + NS(algorithm) + NS(blob) + NS(signature)
            )
        )
        d.addErrback(self._ebAuth)

    # -- password and keyboard-interactive -----------------------------------------------

    def getPassword(self, prompt: bytes | None = None) -> Any:
        """The password (bytes, a Deferred of it, or None: do not use passwords)."""
        return None

    def auth_password(self) -> defer.Deferred[bool]:
        if self.passwordAttempts >= self.maxPasswordAttempts:
            return defer.succeed(False)
        self.passwordAttempts += 1
        return defer.maybeDeferred(self.getPassword).addCallback(self._sendPassword)

    def _sendPassword(self, password: bytes | None) -> bool:
        if password is None:
            return False
        self.askForAuth(b"password", b"\x00" + NS(password))
        return True

    def getGenericAnswers(
        self, name: bytes, instruction: bytes, prompts: list[tuple[bytes, bool]]
    ) -> Any:
        """Answers to keyboard-interactive prompts ((text, echo) pairs): a list of bytes,
        a Deferred of one, or None to give up. By default a single password prompt is
        answered with ``getPassword``."""
        if len(prompts) == 1 and b"password" in prompts[0][0].lower():
            return defer.maybeDeferred(self.getPassword, prompts[0][0]).addCallback(
                lambda password: None if password is None else [password]
            )
        return None

    def auth_keyboard_interactive(self) -> bool:
        if self.interactiveAttempts >= self.maxPasswordAttempts:
            return False
        self.interactiveAttempts += 1
        self.askForAuth(b"keyboard-interactive", NS(b"") + NS(b""))
        return True

    def _answerPrompts(self, packet: bytes) -> None:
        name, instruction, _, rest = getNS(packet, 3)
        (count,) = _U32.unpack_from(rest)
        rest = rest[4:]
        if count > _MAX_PROMPTS:
            self.noMoreMethods()
            return
        prompts = []
        for _ in range(count):
            text, rest = getNS(rest)
            prompts.append((text, rest[:1] == b"\x01"))
            rest = rest[1:]
        d = defer.maybeDeferred(self.getGenericAnswers, name, instruction, prompts)

        def send(answers: list[bytes] | None) -> None:
            if answers is None:
                answers = [b""] * count  # an empty answer fails the attempt
            self.transport.sendPacket(
                MSG_USERAUTH_INFO_RESPONSE,
                _U32.pack(len(answers)) + b"".join(NS(a) for a in answers),
            )

        d.addCallbacks(send, self._ebAuth)
