"""Reusable widgets: the error dialog, plots, field editors."""
