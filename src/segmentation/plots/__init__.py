"""Plots for the report: functions that take data and return a matplotlib Figure."""

__all__: list[str] = []
