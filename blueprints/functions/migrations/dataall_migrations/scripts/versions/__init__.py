"""The metadata database's revisions, oldest first. Each has a working downgrade."""
