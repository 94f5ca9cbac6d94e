"""One module per runbook scenario."""
