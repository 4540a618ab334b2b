import sys

from billing_kit.cli import run
from webhook_ingest.app import create_api
from webhook_ingest.cli import replay_command, serve
from webhook_ingest.settings import WebhookIngestSettings


def main() -> None:
    args = sys.argv[1:]
    command = args[0] if args else "serve"
    if command == "replay":
        replay_command(args[1:])
        return
    if command == "serve":  # the webhook fast lane in front of FastAPI (app.create_app)
        serve(WebhookIngestSettings())
        return
    run(WebhookIngestSettings, create_api, __file__)


if __name__ == "__main__":
    main()
