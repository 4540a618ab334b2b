from billing_kit.migrations import run_migrations
from webhook_ingest.models import Base

run_migrations(Base.metadata)
