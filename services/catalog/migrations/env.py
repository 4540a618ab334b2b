from billing_kit.migrations import run_migrations
from catalog.models import Base

run_migrations(Base.metadata)
