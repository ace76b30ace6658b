"""Terminals over a byte stream: insults (escape sequences both ways) and helpers.

torsion.conch.insults.insults is the protocol layer (ServerProtocol, ClientProtocol,
ITerminalProtocol, ITerminalTransport); torsion.conch.insults.helper has
TerminalBuffer, an in-memory screen. Docs: docs/conch-manhole.md.
"""
