"""Metrics, plots, failure detection, examples and the research report."""
