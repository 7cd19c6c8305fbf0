"""The `dlq` command line: the runbook's commands on the dashboard's core."""
