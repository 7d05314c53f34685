"""ChatOps: Slack slash commands and buttons, verified (signature, timestamp, replay), authorised by the
configuration document, and written to the ledger."""
