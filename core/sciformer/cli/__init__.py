"""The `sciformer` command line."""
