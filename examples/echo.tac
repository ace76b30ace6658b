# The seed talk's echo.tac, ported: run it with torsiond (torsiond --python echo.tac).
# Port 7 is the echo service's own (RFC 862); binding it needs privileges.
from torsion.application import internet, service
from torsion.internet import protocol
from torsion.protocols import wire

application = service.Application('echo')
factory = protocol.ServerFactory()
factory.protocol = wire.Echo
serv = internet.TCPServer(7, factory)
serv.setServiceParent(application)
