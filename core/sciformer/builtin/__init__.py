"""Plugins bundled with the core; they register through the same hooks as external ones."""
