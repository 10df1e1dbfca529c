"""A run's life: planning (input, lock, release, graph), the steps' turns, drift, the report."""
