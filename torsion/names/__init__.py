"""torsion.names: DNS. The sans-IO message codec is torsion.names.dns; resolvers are
torsion.names.client (with hosts, cache and resolve); servers and zones are
torsion.names.server, authority and secondary, run by ``torsiond dns`` (tap).
Tests: tests/names/.
"""
