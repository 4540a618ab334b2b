from billing_kit.migrations import run_migrations
from invoicing.models import InvoicingTable

run_migrations(InvoicingTable.metadata)
