"""Migrate dj-stripe's database and register its webhook endpoint as its admin form does:
created on Stripe (the emulator) with the dj-stripe UUID in its URL and metadata, then
synced into ``WebhookEndpoint``, which keeps the signing secret Stripe returned.

    python -m bench.djstripe_site.prepare http://127.0.0.1:PORT   # prints {"uuid", "secret", "url"}
"""

import json
import sys
from uuid import uuid4

import django  # type: ignore[import-not-found]


def main() -> None:
    base_url = sys.argv[1].rstrip("/")
    django.setup()
    from django.core.management import call_command  # type: ignore[import-not-found]
    from djstripe.models import WebhookEndpoint  # type: ignore[import-not-found]
    from djstripe.settings import djstripe_settings  # type: ignore[import-not-found]

    call_command("migrate", verbosity=0, interactive=False)
    endpoint_uuid = uuid4()
    url = f"{base_url}/stripe/webhook/{endpoint_uuid}/"
    data = WebhookEndpoint._api_create(
        url=url,
        api_version=djstripe_settings.STRIPE_API_VERSION,
        enabled_events=["*"],
        metadata={"djstripe_uuid": str(endpoint_uuid)},
        connect=False,
    )
    data["djstripe_tolerance"] = 300
    data["djstripe_validation_method"] = "verify_signature"
    endpoint = WebhookEndpoint.sync_from_stripe_data(data)
    print(json.dumps({"uuid": str(endpoint.djstripe_uuid), "secret": endpoint.secret, "url": url}))


if __name__ == "__main__":
    main()
