# The small services of RFC 862-868 (echo, discard, chargen, qotd, who, daytime,
# time), each over TCP and UDP, on 127.0.0.1. Run it with torsiond:
#
#     torsiond -n -y examples/wire.tac
#
# Each service listens on WIRE_BASE_PORT (default 8000) plus its RFC port: echo on
# 8007, discard 8009, who 8011, daytime 8013, qotd 8017, chargen 8019, time 8037.
# WIRE_BASE_PORT=0 listens on the RFC ports themselves (7, 9, ...; root only), and
# WIRE_BASE_PORT=any on free ports chosen by the system. Then try, for example,
#     nc 127.0.0.1 8013          (daytime)
#     echo hi | nc -u -w1 127.0.0.1 8007   (echo over UDP)
# `torsiond -n wire` serves the same with command-line options (torsion.tap.wire).
import os

from torsion.application import internet, service
from torsion.internet import protocol
from torsion.protocols import wire

SERVICES = [
    # (name, RFC port, TCP protocol, UDP protocol)
    ("echo", 7, wire.Echo, wire.EchoUDP),
    ("discard", 9, wire.Discard, wire.DiscardUDP),
    ("who", 11, wire.Who, wire.WhoUDP),
    ("daytime", 13, wire.Daytime, wire.DaytimeUDP),
    ("qotd", 17, wire.QOTD, wire.QOTDUDP),
    ("chargen", 19, wire.Chargen, wire.ChargenUDP),
    ("time", 37, wire.Time, wire.TimeUDP),
]

base = os.environ.get("WIRE_BASE_PORT", "8000")
application = service.Application("wire")
for name, rfcPort, tcpProtocol, udpProtocol in SERVICES:
    port = 0 if base == "any" else int(base) + rfcPort
    tcp = internet.TCPServer(
        port, protocol.ServerFactory.forProtocol(tcpProtocol), interface="127.0.0.1"
    )
    tcp.setName(f"{name} tcp")
    tcp.setServiceParent(application)
    udp = internet.UDPServer(port, udpProtocol(), interface="127.0.0.1")
    udp.setName(f"{name} udp")
    udp.setServiceParent(application)
