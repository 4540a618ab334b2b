from billing_kit.cli import run
from catalog.settings import CatalogSettings

if __name__ == "__main__":
    run(CatalogSettings, "catalog.app:create_app", __file__)
