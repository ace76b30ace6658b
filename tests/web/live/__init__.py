"""Tests of torsion.web.live: the wire protocol, the server glue, the JavaScript client
(under Node) and real pages in headless Chromium."""
