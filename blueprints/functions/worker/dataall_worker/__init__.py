"""The platform's worker: takes work items from the FIFO queue."""
