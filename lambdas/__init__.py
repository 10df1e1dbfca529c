"""The code that runs in AWS.

`handlers/` holds one thin module per state of the workflow (and per event target); the
domain rooms say what they do: `run/` (a run's life), `stage/` (one stage's deploy),
`rollback/`, `migration/`, `pivot_role/`; `release/` is the release model the build shares;
`data/` is the one room that creates AWS clients (ledger, stacks, release store); `core/` is
what every step shares.
"""
