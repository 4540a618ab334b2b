from tests.invoicing.fixtures import (
    agency,
    catalog,
    emulator,
    ingest,
    invoicing,
    stripe_sdk,
    subscriptions,
)

__all__ = ["agency", "catalog", "emulator", "ingest", "invoicing", "stripe_sdk", "subscriptions"]
