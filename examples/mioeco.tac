# The seed talk's .tac for its custom line echo (examples/mioeco.py), on port 7777.
# The classes come from the module mioeco, so a saved state finds them again.
from torsion.application import internet, service

import mioeco

application=service.Application('mioeco')
factory=mioeco.Fabbrica()
serv=internet.TCPServer(7777, factory)
serv.setServiceParent(application)
