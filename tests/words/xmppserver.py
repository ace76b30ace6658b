"""A small XMPP server for the tests, written on torsion.protocols.xmlstream alone.

It does what a client meets when it logs in (RFC 6120): STARTTLS with the test CA's
certificate for localhost, SASL PLAIN, SCRAM-SHA-1 and SCRAM-SHA-256 (its own code,
from the RFC's formulas), resource binding, the legacy session, and then routes
messages between the connected users, answers roster gets and sets, and answers
unknown IQ requests with service-unavailable. It also accepts XEP-0114 components.
``misbehave`` makes it break the protocol on purpose in the ways the tests name.
It uses none of the client code under test (not even its JID or SASL modules).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from torsion.internet import protocol
from torsion.protocols import xmlstream
from torsion.protocols.xmlstream import Element

NS_STREAMS = "http://etherx.jabber.org/streams"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_ROSTER = "jabber:iq:roster"
DOMAIN = "localhost"


def _scramKeys(hashName: str, password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    salted = hashlib.pbkdf2_hmac(hashName, password.encode(), salt, iterations)
    clientKey = hmac.new(salted, b"Client Key", hashName).digest()
    storedKey = hashlib.new(hashName, clientKey).digest()
    serverKey = hmac.new(salted, b"Server Key", hashName).digest()
    return storedKey, serverKey


class ServerState:
    """What all connections share: accounts, rosters, sessions and the settings."""

    def __init__(
        self,
        users: dict[str, str] | None = None,
        tlsOptions: Any = None,
        mechanisms: tuple[str, ...] = ("SCRAM-SHA-1", "PLAIN"),
        componentSecret: str = "s3cret",
    ) -> None:
        self.users = users if users is not None else {"alice": "wonderland", "bob": "builder"}
        self.tlsOptions = tlsOptions
        self.mechanisms = mechanisms
        self.componentSecret = componentSecret
        self.rosters: dict[str, list[Element]] = {}
        self.sessions: dict[str, ServerStream] = {}  # full JID -> stream
        self.components: dict[str, ServerStream] = {}
        self.misbehave: set[str] = set()
        self.received: list[Element] = []  # every stanza, in order
        self.streamErrors: list[str] = []
        self.authAttempts: list[str] = []  # the mechanisms clients tried

    def route(self, stanza: Element) -> bool:
        to = stanza.getAttribute("to") or ""
        target = self.sessions.get(to)
        if target is None:
            for full, stream in self.sessions.items():
                if full.split("/")[0] == to:
                    target = stream
                    break
        if target is None:
            domain = to.split("@")[-1].split("/")[0]
            target = self.components.get(domain)
        if target is None:
            return False
        target.send(stanza)
        return True


class ServerStream(xmlstream.XmlStream):
    """One client's (or component's) connection to the test server."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.tls = False
        self.user: str | None = None
        self.fullJID: str | None = None
        self.component: str | None = None
        self.scram: dict[str, Any] | None = None

    # -- streams -------------------------------------------------------------------

    def onDocumentStart(self, rootElement: Element) -> None:
        sid = secrets.token_hex(6)
        self.sid = sid
        to = rootElement.getAttribute("to") or ""
        if rootElement.uri != NS_STREAMS:
            self.send(f"<stream:stream xmlns:stream='{NS_STREAMS}'>")
            self.streamError("invalid-namespace")
            return
        if to.startswith("rooms."):
            self.component = to
            self.send(
                f"<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
                f"xmlns:stream='{NS_STREAMS}' from='{to}' id='{sid}'>"
            )
            return
        if "garbage-header" in self.state.misbehave:
            self.send(b"<<<this is not xml>>>")
            return
        version = "" if "old-version" in self.state.misbehave else " version='1.0'"
        self.send(
            f"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            f"xmlns:stream='{NS_STREAMS}' from='{DOMAIN}' id='{sid}'{version}>"
        )
        features = Element((NS_STREAMS, "features"))
        if self.state.tlsOptions is not None and not self.tls:
            tls = features.addElement((NS_TLS, "starttls"))
            tls.addElement("required")
        elif self.user is None:
            mechanisms = features.addElement((NS_SASL, "mechanisms"))
            for name in self.state.mechanisms:
                mechanisms.addElement("mechanism", content=name)
        else:
            features.addElement((NS_BIND, "bind"))
            features.addElement((NS_SESSION, "session"))
        inner = "".join(c.toXml() for c in features.elements())
        self.send(f"<stream:features>{inner}</stream:features>")

    def streamError(self, condition: str, text: str = "") -> None:
        words = f"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>{text}</text>" if text else ""
        self.send(
            f"<stream:error><{condition} xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
            f"{words}</stream:error></stream:stream>"
        )
        self.transport.loseConnection()

    def onStreamError(self, message: str) -> None:
        self.state.streamErrors.append(message)
        super().onStreamError(message)

    def connectionLost(self, reason: object = protocol.connectionDone) -> None:
        if self.fullJID is not None and self.state.sessions.get(self.fullJID) is self:
            del self.state.sessions[self.fullJID]
        if self.component is not None and self.state.components.get(self.component) is self:
            del self.state.components[self.component]

    def restart(self) -> None:
        self.resetParser()

    # -- stanzas -------------------------------------------------------------------

    def onElement(self, element: Element) -> None:
        self.state.received.append(element)
        if self.component is not None:
            self.componentElement(element)
        elif element.uri == NS_TLS and element.name == "starttls":
            self.send(f"<proceed xmlns='{NS_TLS}'/>")
            self.transport.startTLS(self.state.tlsOptions)
            self.tls = True
            self.restart()
        elif element.uri == NS_SASL:
            self.saslElement(element)
        elif self.user is None:
            self.streamError("not-authorized")
        elif element.name == "iq":
            self.iq(element)
        elif element.name == "message":
            element["from"] = self.fullJID or ""
            if "spoof" in self.state.misbehave:
                element["from"] = "mallory@localhost/x"
            self.state.route(element)
        elif element.name == "presence":
            pass

    def componentElement(self, element: Element) -> None:
        accepted = self.state.components.get(self.component or "") is self
        if element.name == "handshake" and not accepted:
            expected = hashlib.sha1((self.sid + self.state.componentSecret).encode()).hexdigest()
            if str(element).strip() != expected:
                self.streamError("not-authorized")
                return
            self.state.components[self.component or ""] = self
            self.send("<handshake/>")
        elif accepted:
            self.state.route(element)
        else:
            self.streamError("not-authorized")

    def iq(self, iq: Element) -> None:
        kind = iq.getAttribute("type")
        child = iq.firstChildElement()
        reply = Element(("jabber:client", "iq"))
        reply["id"] = iq.getAttribute("id") or ""
        reply["type"] = "result"
        if "iq-from-stranger" in self.state.misbehave:
            reply["from"] = "mallory@localhost"
        if child is not None and child.uri == NS_BIND and kind == "set":
            resource = next(child.elements(NS_BIND, "resource"), None)
            name = str(resource) if resource is not None else "r" + secrets.token_hex(3)
            self.fullJID = f"{self.user}@{DOMAIN}/{name}"
            self.state.sessions[self.fullJID] = self
            bound = reply.addElement((NS_BIND, "bind"))
            bound.addElement("jid", content=self.fullJID)
        elif child is not None and child.uri == NS_SESSION:
            pass
        elif child is not None and child.uri == NS_ROSTER and kind == "get":
            if "no-iq-answer" in self.state.misbehave:
                return
            query = reply.addElement((NS_ROSTER, "query"))
            for item in self.state.rosters.get(self.user or "", []):
                query.addChild(item)
        elif child is not None and child.uri == NS_ROSTER and kind == "set":
            items = self.state.rosters.setdefault(self.user or "", [])
            for item in child.elements(NS_ROSTER, "item"):
                items[:] = [i for i in items if i.getAttribute("jid") != item.getAttribute("jid")]
                item.parent = None
                if item.getAttribute("subscription") != "remove":
                    items.append(item)
                self.pushRoster(item)
        elif iq.getAttribute("to") and self.routeFromHere(iq):
            return
        elif kind in ("get", "set"):
            reply["type"] = "error"
            error = reply.addElement("error")
            error["type"] = "cancel"
            error.addElement((NS_STANZAS, "service-unavailable"))
        else:
            return
        self.send(reply)

    def pushRoster(self, item: Element) -> None:
        for full, stream in list(self.state.sessions.items()):
            if full.split("@")[0] == self.user:
                push = Element(("jabber:client", "iq"))
                push["type"], push["id"], push["to"] = "set", secrets.token_hex(4), full
                if "push-from-stranger" in self.state.misbehave:
                    push["from"] = "mallory@localhost"
                push.addElement((NS_ROSTER, "query")).addChild(item)
                item.parent = None
                stream.send(push)

    def routeFromHere(self, stanza: Element) -> bool:
        stanza["from"] = self.fullJID or ""
        return self.state.route(stanza)

    # -- SASL ----------------------------------------------------------------------

    def saslElement(self, element: Element) -> None:
        data = base64.b64decode(str(element)) if str(element).strip("= ") else b""
        if element.name == "auth":
            mechanism = element.getAttribute("mechanism") or ""
            self.state.authAttempts.append(mechanism)
            if mechanism not in self.state.mechanisms:
                self.saslFailure("invalid-mechanism")
            elif mechanism == "PLAIN":
                _, user, password = data.decode().split("\x00")
                if self.state.users.get(user) == password:
                    self.saslSuccess(user, b"")
                else:
                    self.saslFailure("not-authorized")
            else:
                self.scramFirst(mechanism, data)
        elif element.name == "response" and self.scram is not None:
            self.scramFinal(data)
        elif element.name == "abort":
            self.saslFailure("aborted")
        else:
            self.saslFailure("malformed-request")

    def saslSuccess(self, user: str, data: bytes) -> None:
        self.user = user
        payload = base64.b64encode(data).decode() if data else ""
        self.send(f"<success xmlns='{NS_SASL}'>{payload}</success>")
        self.restart()

    def saslFailure(self, condition: str) -> None:
        self.scram = None
        self.send(f"<failure xmlns='{NS_SASL}'><{condition}/><text>no</text></failure>")

    def scramFirst(self, mechanism: str, data: bytes) -> None:
        hashName = "sha1" if mechanism == "SCRAM-SHA-1" else "sha256"
        _, _, bare = data.decode().partition(",,")
        fields = dict(part.split("=", 1) for part in bare.split(","))
        user = fields["n"]
        nonce = fields["r"] + secrets.token_hex(8)
        salt = secrets.token_bytes(12)
        serverFirst = f"r={nonce},s={base64.b64encode(salt).decode()},i=4096"
        self.scram = {
            "hash": hashName,
            "user": user,
            "bare": bare,
            "nonce": nonce,
            "serverFirst": serverFirst,
            "keys": _scramKeys(
                hashName, self.state.users.get(user, secrets.token_hex(8)), salt, 4096
            ),
        }
        challenge = base64.b64encode(serverFirst.encode()).decode()
        self.send(f"<challenge xmlns='{NS_SASL}'>{challenge}</challenge>")

    def scramFinal(self, data: bytes) -> None:
        scram, self.scram = self.scram, None
        assert scram is not None
        text = data.decode()
        withoutProof, _, proof64 = text.rpartition(",p=")
        fields = dict(part.split("=", 1) for part in withoutProof.split(","))
        if fields.get("r") != scram["nonce"]:
            self.saslFailure("not-authorized")
            return
        authMessage = ",".join((scram["bare"], scram["serverFirst"], withoutProof)).encode()
        storedKey, serverKey = scram["keys"]
        signature = hmac.new(storedKey, authMessage, scram["hash"]).digest()
        clientKey = bytes(a ^ b for a, b in zip(base64.b64decode(proof64), signature, strict=True))
        known = scram["user"] in self.state.users
        if not known or hashlib.new(scram["hash"], clientKey).digest() != storedKey:
            self.saslFailure("not-authorized")
            return
        serverSignature = hmac.new(serverKey, authMessage, scram["hash"]).digest()
        if "bad-server-signature" in self.state.misbehave:
            serverSignature = bytes(len(serverSignature))
        self.saslSuccess(scram["user"], b"v=" + base64.b64encode(serverSignature))


class ServerFactory(protocol.ServerFactory):
    """Builds ServerStreams sharing one ServerState."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def buildProtocol(self, addr: Any) -> ServerStream:
        stream = ServerStream(self.state)
        stream.factory = self
        return stream
