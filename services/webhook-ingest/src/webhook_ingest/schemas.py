"""Request and response models of the webhook-ingest API."""
