"""Bundled policy files (package data)."""
