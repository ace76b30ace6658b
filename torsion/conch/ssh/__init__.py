"""torsion.conch.ssh: the SSH protocol (RFC 4251-4254); keys and wire types so far."""
