from billing_kit.cli import run
from revenue import cli
from revenue.settings import RevenueSettings


def main() -> None:
    """``revenue [serve|migrate|…|reconcile]``."""
    run(
        RevenueSettings,
        "revenue.app:create_app",
        __file__,
        commands={"reconcile": cli.run},
    )


if __name__ == "__main__":
    main()
