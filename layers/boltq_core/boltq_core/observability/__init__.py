"""Metrics, tracing and job logs."""
