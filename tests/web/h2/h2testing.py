"""An HTTP/2 client (the h2 library's own state machine) talking to a Site in memory.

`H2Pair` connects a Site's channel to a StringTransport and a task.Clock, switches it
to HTTP/2 with the prior-knowledge preface, and gives the test a client side that
sends requests and collects each stream's response, so that flow control, resets and
timeouts are exercised exactly, with no socket and no sleep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

pytest.importorskip("h2", reason="HTTP/2 needs the h2 library: pip install torsion[http2]")

import h2
import h2.config
import h2.connection
import h2.events

from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.web import server
from torsion.web._http2 import H2Connection


@dataclass
class StreamResponse:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: bytes = b""
    ended: bool = False
    reset: int | None = None

    @property
    def status(self) -> int:
        return int(self.headers[b":status"])


class H2Pair:
    """A client and a Site's HTTP/2 connection, joined in memory."""

    def __init__(
        self,
        root: Any = None,
        site: server.Site | None = None,
        settings: dict[Any, int] | None = None,
    ) -> None:
        self.clock = Clock()
        self.site = site or server.Site(root, reactor=self.clock)
        self.site._reactor = self.clock
        self.transport = StringTransport()
        channel = self.site.buildProtocol(None)
        self.transport.protocol = channel
        channel.makeConnection(self.transport)
        self.client = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.client.initiate_connection()
        if settings:
            self.client.update_settings(settings)
        self.responses: dict[int, StreamResponse] = {}
        self.events: list[Any] = []
        self.autoAcknowledge = True
        self.flush()
        self.server: H2Connection = self.transport.protocol
        assert isinstance(self.server, H2Connection), "the channel did not switch to HTTP/2"
        self.exchange()

    def flush(self) -> None:
        """Send what the client has to say to the server."""
        data = self.client.data_to_send()
        if data:
            self.transport.protocol.dataReceived(data)

    def exchange(self) -> list[Any]:
        """Deliver everything both ways until neither side has more to say."""
        received: list[Any] = []
        for _ in range(1000):
            self.flush()
            data = self.transport.value()
            self.transport.clear()
            if not data:
                break
            events = self.client.receive_data(data)
            received.extend(events)
            for event in events:
                self._record(event)
        self.events.extend(received)
        return received

    def _record(self, event: Any) -> None:
        streamID = getattr(event, "stream_id", None)
        if streamID is None:
            return
        response = self.responses.setdefault(streamID, StreamResponse())
        if isinstance(event, h2.events.ResponseReceived):
            response.headers = dict(event.headers)
        elif isinstance(event, h2.events.DataReceived):
            response.body += event.data
            if self.autoAcknowledge:
                self.client.acknowledge_received_data(event.flow_controlled_length, streamID)
        elif isinstance(event, h2.events.StreamEnded):
            response.ended = True
        elif isinstance(event, h2.events.StreamReset):
            response.reset = event.error_code

    def request(
        self,
        path: bytes = b"/",
        method: bytes = b"GET",
        headers: list[tuple[bytes, bytes]] | None = None,
        body: bytes | None = None,
        endStream: bool = True,
    ) -> int:
        """Open a stream with a request (its body too, if given); return its id."""
        streamID = self.client.get_next_available_stream_id()
        allHeaders = [
            (b":method", method),
            (b":path", path),
            (b":scheme", b"http"),
            (b":authority", b"example.com"),
            *(headers or []),
        ]
        self.client.send_headers(streamID, allHeaders, end_stream=endStream and body is None)
        if body is not None:
            self.sendBody(streamID, body, endStream)
        self.exchange()
        return streamID

    def sendBody(self, streamID: int, body: bytes, endStream: bool = True) -> None:
        """Send `body` on the stream in frames the client's windows allow."""
        while body:
            window = min(
                self.client.local_flow_control_window(streamID),
                self.client.max_outbound_frame_size,
            )
            assert window > 0, "the server did not open its receive window"
            chunk, body = body[:window], body[window:]
            self.client.send_data(streamID, chunk, end_stream=endStream and not body)
            self.exchange()
            if streamID in self.responses and self.responses[streamID].reset is not None:
                return

    def get(self, path: bytes = b"/", **kwargs: Any) -> StreamResponse:
        return self.responses[self.request(path, **kwargs)]
