"""The crash drill (``<SERVICE>_CRASH_AFTER_STRIPE``) is honoured in development only: outside
it a service's settings refuse it, so no production process can be made to kill itself."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from catalog.settings import CatalogSettings
from subscriptions.settings import SubscriptionsSettings

pytestmark = [pytest.mark.unit]


def test_the_drill_is_refused_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_ENV", "production")
    monkeypatch.setenv("CATALOG_CRASH_AFTER_STRIPE", "create_product")
    with pytest.raises(ValidationError, match="refused outside development"):
        CatalogSettings()


def test_the_drill_is_read_from_the_service_s_own_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BILLING_ENV", "development")
    monkeypatch.setenv("SUBSCRIPTIONS_CRASH_AFTER_STRIPE", "start_subscription")
    assert SubscriptionsSettings().crash_after_stripe == "start_subscription"
    assert CatalogSettings().crash_after_stripe is None


def test_no_drill_by_default_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLING_ENV", "production")
    monkeypatch.delenv("CATALOG_CRASH_AFTER_STRIPE", raising=False)
    assert CatalogSettings().crash_after_stripe is None
