from billing_kit.migrations import run_migrations
from subscriptions.models import SubscriptionsTable

run_migrations(SubscriptionsTable.metadata)
