# A render that answers later: it returns NOT_DONE_YET, and a Deferred fired by
# reactor.callLater writes the page and finishes the request. If the browser leaves
# first, the timer is cancelled instead of writing to nobody.
#     torsiond -n web --resource-script later.rpy
from torsion.internet import defer, reactor
from torsion.web import resource, server


class Later(resource.Resource):
    isLeaf = True
    delay = 0.2

    def render_GET(self, request):
        d = defer.Deferred()
        call = reactor.callLater(self.delay, d.callback, "pronto")

        def answer(word):
            request.setHeader("content-type", "text/plain; charset=utf-8")
            request.write(f"{word} dopo {self.delay} secondi\n".encode("utf-8"))
            request.finish()

        d.addCallback(answer)
        request.notifyFinish().addErrback(lambda reason: call.active() and call.cancel())
        return server.NOT_DONE_YET


resource = Later()
