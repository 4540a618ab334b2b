from billing_kit.cli import run
from invoicing.app import create_app
from invoicing.settings import InvoicingSettings

if __name__ == "__main__":
    run(InvoicingSettings, create_app, __file__)
