"""Benchmarks of the installer in the local sandbox; each script prints its figures last.

- `install.py`: a full install against the floor (the critical path of the release graph
  under the sandbox's latency model), and a sequential installer's floor against it;
- `noop.py`: a redeploy with nothing to do (transitions, change sets, Lambda calls, time);
- `cost.py`: list-price cost of an install, an upgrade of one stage, a no-op redeploy.

Shared code: `common` (drive the sandbox as the CLI does, measure a run), `critical_path`
(the floor), `timeline` (where a run's time and state transitions go).
"""
