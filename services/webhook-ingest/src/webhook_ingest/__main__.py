from billing_kit.cli import run
from webhook_ingest.app import create_app
from webhook_ingest.settings import WebhookIngestSettings

if __name__ == "__main__":
    run(WebhookIngestSettings, create_app, __file__)
