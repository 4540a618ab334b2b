from billing_kit.migrations import run_migrations
from webhook_ingest.models import IngestTable

run_migrations(IngestTable.metadata)
