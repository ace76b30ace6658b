"""Tests of torsion.web over HTTP/2 (torsion/web/_http2.py)."""
