from billing_kit.cli import run
from subscriptions.settings import SubscriptionsSettings

if __name__ == "__main__":
    run(SubscriptionsSettings, "subscriptions.app:create_app", __file__)
