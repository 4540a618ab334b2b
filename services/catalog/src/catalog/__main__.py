from billing_kit.cli import run
from catalog.app import create_app
from catalog.settings import CatalogSettings

if __name__ == "__main__":
    run(CatalogSettings, create_app, __file__)
