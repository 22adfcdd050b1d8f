"""Data structures and I/O shared by every domain: batches, batching by token budget, HDF5 results."""
