"""The `migrate` action: snapshot, migrations, and their undo."""
