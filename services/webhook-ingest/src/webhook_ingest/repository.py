"""Every query of the webhook-ingest service."""
