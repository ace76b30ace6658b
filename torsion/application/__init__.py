"""Services and applications: long-running parts of a program, started and stopped as a tree.

``service`` has the service model (Service, MultiService, Application),
``internet`` the ready services (servers, clients, timers), ``strports`` the services
made from endpoint descriptions such as ``"tcp:8080"``.
"""
