"""The SSH client side of torsion.conch: known_hosts checking (knownhosts)."""
