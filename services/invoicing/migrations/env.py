import invoicing.saas_fees.models  # noqa: F401  its tables join InvoicingTable.metadata
from billing_kit.migrations import run_migrations
from invoicing.models import InvoicingTable

run_migrations(InvoicingTable.metadata)
