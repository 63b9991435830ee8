"""Plain-Python foundations: configuration, events, run folders, hardware facts.

Nothing in this package imports Qt or torch (an import-linter contract enforces it).
"""
