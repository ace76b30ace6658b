"""torsion.cred: authentication, kept apart from the protocols that need it.

A protocol turns what a client sends into *credentials* (``credentials``); a *checker*
(``checkers``) decides whether they are good and names the *avatar id*; a *realm*
(``portal.IRealm``) makes the avatar, the object the user acts through; a ``Portal``
joins the three, so a server asks ``portal.login(credentials, mind, IMyAvatar)`` and
never sees how passwords are stored. ``hashing`` stores passwords as argon2id, scrypt
or bcrypt hashes; ``strcred`` turns ``--auth`` command-line options into checkers.

The names are Twisted's (``twisted.cred``); docs/cred.md says where torsion differs.
Tests: tests/cred/.
"""
