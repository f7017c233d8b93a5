"""Task taxonomy, routing policy, rule matching and decisions.

Nothing in this package imports pygls: it is shared by the language server
and the command line, and is unit-tested on its own.
"""
