"""The agent runtime: the command line, scan orchestration, the daemon (schedule, alerts, HTTP server with health,
metrics and the dashboard), the distributed work queue, JSON logs."""
