from billing_kit.cli import run
from webhook_ingest.settings import WebhookIngestSettings


def replay(argv: list[str]) -> None:
    from webhook_ingest.cli import replay_command  # only this command needs the runtime

    replay_command(argv)


if __name__ == "__main__":
    run(
        WebhookIngestSettings,
        "webhook_ingest.app:create_app",
        __file__,
        commands={"replay": replay},
    )
