"""Instrument parsers (registry filled in below)."""
