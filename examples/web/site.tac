# A site built in a .tac: the root's children made with putChild, "" for / and "foo"
# for /foo/ (the seed's "to use other paths: putChild").
#     torsiond -n -y site.tac          (listens on tcp:8080, or on $TORSION_WEB_LISTEN)
import os

from torsion.application import service, strports
from torsion.web import resource, server

import sitepages

root = resource.Resource()
root.putChild("", sitepages.Home())
foo = sitepages.Foo()
root.putChild("foo", foo)
foo.putChild("", foo)

application = service.Application("site")
listen = os.environ.get("TORSION_WEB_LISTEN", "tcp:8080")
strports.service(listen, server.Site(root)).setServiceParent(application)
