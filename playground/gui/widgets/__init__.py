"""Reusable widgets: token boxes, plots, ..."""
