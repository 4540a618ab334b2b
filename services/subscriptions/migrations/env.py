from billing_kit.migrations import run_migrations
from subscriptions.models import Base

run_migrations(Base.metadata)
