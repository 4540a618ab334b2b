"""The webhook-ingest rules."""
