"""The HTTP edges: Stripe's `/v1` and `/v2` APIs, the `/_emulator` control API, hosted pages."""
