from billing_kit.migrations import run_migrations
from invoicing.models import Base

run_migrations(Base.metadata)
