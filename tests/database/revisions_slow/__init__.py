"""A test-only revision 0004 with one statement that runs for seconds."""
