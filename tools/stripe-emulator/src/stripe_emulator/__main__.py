"""`stripe-emulator` / `python -m stripe_emulator`: serve the emulator with uvicorn."""

from __future__ import annotations

import uvicorn

from stripe_emulator.app import create_app
from stripe_emulator.settings import Settings


def main() -> None:
    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
    )


if __name__ == "__main__":
    main()
