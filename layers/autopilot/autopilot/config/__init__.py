"""Configuration: `autopilot:` service tags, deploy policies, the configuration document, settings."""
