"""The code that runs in AWS: one module per workflow step, plus the shared domain code.

Handlers are wiring (Powertools decorators, a typed input, one domain call); the domain
modules (`manifest`, `ledger`, `releases`, `stacks`, `runs`) take their AWS clients as
parameters so tests hand in clients of the sandbox.
"""
