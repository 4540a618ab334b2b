from billing_kit.cli import run
from revenue.settings import RevenueSettings

if __name__ == "__main__":
    run(RevenueSettings, "revenue.app:create_app", __file__)
