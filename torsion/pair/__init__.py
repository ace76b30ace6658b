"""torsion.pair: raw packets over TUN/TAP devices (Twisted's twisted.pair).

A small user-space network stack for tests, simulators and tools that speak below
the socket API: ``tuntap.TuntapPort`` reads and writes packets on a Linux TUN (IP)
or TAP (ethernet) device as a reactor reader; ``ethernet``, ``arp``, ``ip``,
``udp``/``rawudp`` and ``icmp`` decode and encode each layer (sans-IO codecs that
validate lengths and checksums) and dispatch to the layer above, with a send path
down as well, so a protocol can answer. Docs: docs/pair.md; tests: tests/pair/.
"""
