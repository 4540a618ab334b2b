from billing_kit.migrations import run_migrations
from catalog.models import CatalogTable

run_migrations(CatalogTable.metadata)
