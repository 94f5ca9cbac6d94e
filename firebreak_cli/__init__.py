"""The `firebreak` command line: incidents, approvals, drills, health of the configuration."""
