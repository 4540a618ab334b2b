from billing_kit.migrations import run_migrations
from revenue.models import Base

run_migrations(Base.metadata)
