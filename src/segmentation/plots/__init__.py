"""Plots for the report, one module per section: functions that take data and return a
matplotlib Figure built without pyplot, or draw on the ``ax`` they are given."""

__all__: list[str] = []
