"""torsion.mail: SMTP, POP3 and IMAP4 servers and clients, maildirs, relaying."""
