"""torsion.web: HTTP servers and clients, resources, sessions, static files and scripts.

Start with docs/web.md. The layers, bottom up: torsion.web._http11 (the sans-IO
HTTP/1.1 codec), torsion.web.http (the channel and the base request),
torsion.web.server (Site and the resource-traversing Request), torsion.web.resource,
and the resources built on them (static, script, twcgi, proxy, vhost, util, wsgi).
"""
