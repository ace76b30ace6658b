"""The event loop, Deferreds, transports and protocols: the pivot of torsion."""
