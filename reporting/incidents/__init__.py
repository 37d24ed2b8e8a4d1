"""Incident reports: volume, response and resolution times, SLA compliance, backlog."""
