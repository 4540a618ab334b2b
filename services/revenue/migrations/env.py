from billing_kit.migrations import run_migrations
from revenue.back_office import models as back_office_models
from revenue.models import RevenueTable

assert back_office_models  # its tables are revenue's too

run_migrations(RevenueTable.metadata)
