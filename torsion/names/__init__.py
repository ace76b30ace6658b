"""
torsion.names: DNS. The sans-IO message codec is L{torsion.names.dns}; its tests
are in tests/names/.
"""
