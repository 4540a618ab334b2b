from billing_kit.cli import run
from revenue.app import create_app
from revenue.settings import RevenueSettings

if __name__ == "__main__":
    run(RevenueSettings, create_app, __file__)
