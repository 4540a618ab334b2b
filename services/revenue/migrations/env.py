from billing_kit.migrations import run_migrations
from revenue.models import RevenueTable

run_migrations(RevenueTable.metadata)
