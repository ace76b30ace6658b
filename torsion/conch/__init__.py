"""torsion.conch: remote terminals: Telnet now; SSH, SFTP and the manhole to come."""
