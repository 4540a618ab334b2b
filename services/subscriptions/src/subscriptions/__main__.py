from billing_kit.cli import run
from subscriptions.app import create_app
from subscriptions.settings import SubscriptionsSettings

if __name__ == "__main__":
    run(SubscriptionsSettings, create_app, __file__)
