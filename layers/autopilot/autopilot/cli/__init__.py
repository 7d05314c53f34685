"""The `autopilot` command."""
