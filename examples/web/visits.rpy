# The seed talk's visit counter: the session follows one browser (a cookie), and the
# count lives on it. Two ways to keep state on a session: the seed's attribute
# (session.nv), and a component of the session for an interface of your own, which
# keeps one part's state from clashing with another's.
#     torsiond -n web --resource-script visits.rpy
from zope.interface import Attribute, Interface, implementer

from torsion.web import resource


class IVisits(Interface):
    count = Attribute("How many pages this browser has seen.")


@implementer(IVisits)
class Visits:
    def __init__(self):
        self.count = 0


class Counter(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        session = request.getSession()
        session.nv = 1 + getattr(session, "nv", 0)
        visits = session.getComponent(IVisits)
        if visits is None:
            visits = Visits()
            session.setComponent(IVisits, visits)
        visits.count += 1
        return f"<p>visita n. {session.nv} ({visits.count})</p>".encode("utf-8")


resource = Counter()
