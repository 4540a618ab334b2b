import sys

from billing_kit.cli import run
from webhook_ingest.app import create_app
from webhook_ingest.cli import replay_command, serve_workers
from webhook_ingest.settings import WebhookIngestSettings


def main() -> None:
    args = sys.argv[1:]
    command = args[0] if args else "serve"
    if command == "replay":
        replay_command(args[1:])
        return
    if command == "serve":
        settings = WebhookIngestSettings()
        if settings.workers > 1:
            serve_workers(settings)
            return
    run(WebhookIngestSettings, create_app, __file__)


if __name__ == "__main__":
    main()
