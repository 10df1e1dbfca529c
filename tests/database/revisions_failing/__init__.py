"""A test-only revision 0004 that fails midway, after it has altered tables."""
