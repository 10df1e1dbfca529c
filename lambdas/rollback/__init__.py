"""Undoing a run: one undo per call, newest first, back to every stage's rollback point."""
