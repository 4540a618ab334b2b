from billing_kit.cli import run
from invoicing.cli import retries
from invoicing.settings import InvoicingSettings

if __name__ == "__main__":
    run(InvoicingSettings, "invoicing.app:create_app", __file__, commands={"retries": retries})
