"""The alembic project: `env.py`, the revision template and `versions/`."""
