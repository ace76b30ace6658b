"""The pieces of torsion.web.guard: Basic, Digest, the wrapper and the login form.

Import them from torsion.web.guard; the modules here are private.
Tests: tests/web/guard/.
"""
