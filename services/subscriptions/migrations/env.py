import subscriptions.saas_fees.models  # noqa: F401  its tables join SubscriptionsTable.metadata
from billing_kit.migrations import run_migrations
from subscriptions.models import SubscriptionsTable

run_migrations(SubscriptionsTable.metadata)
