from billing_kit.cli import run
from invoicing import cli
from invoicing.settings import InvoicingSettings


def main() -> None:
    """``invoicing [serve|migrate|…|retries]``."""
    run(
        InvoicingSettings,
        "invoicing.app:create_app",
        __file__,
        commands={"retries": cli.retries},
    )


if __name__ == "__main__":
    main()
