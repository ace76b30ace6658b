# The seed talk's resource script: a page that must not be cached, saying which path
# reached it and when. Serve it with
#     torsiond -n web --resource-script ci.rpy
# or save that as web.tap with `torsion mktap web --resource-script ci.rpy` and run
# `torsiond -n -f web.tap`; then browse http://localhost:8080/ and /foo/.
import time

from torsion.web import resource


class Ciao(resource.Resource):
    def render_GET(self, request):
        request.setHeader("cache-control", "no-cache, must-revalidate")
        where = b"/".join(request.prepath).decode("utf-8", "replace")
        return f"<p>ciao da /{where}: {time.asctime()}</p>".encode("utf-8")


resource = Ciao()
resource.putChild("", resource)
resource.putChild("foo", resource)
