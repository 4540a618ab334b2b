"""The operator's Grafana dashboard and Prometheus alert rules (``deploy/``) name only
metrics the services export, each with labels it has, and each alert says what to do."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from billing_devstack import repo_root
from billing_kit import metrics

pytestmark = [pytest.mark.unit]

DEPLOY = repo_root() / "deploy"

_SUFFIXES: dict[type[MetricWrapperBase], tuple[str, ...]] = {
    Counter: ("_total",),
    Gauge: ("",),
    Histogram: ("_bucket", "_sum", "_count"),
}


def exported() -> dict[str, set[str]]:
    """Every series name the services export (``billing_kit.metrics``) → its labels."""
    found: dict[str, set[str]] = {}
    for metric in vars(metrics).values():
        if isinstance(metric, MetricWrapperBase):
            labels = set(metric._labelnames)
            for suffix in _SUFFIXES[type(metric)]:
                found[metric._name + suffix] = labels | ({"le"} if suffix == "_bucket" else set())
    return found


_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
             "unless", "bool", "offset", "inf", "nan"}  # fmt: skip


def series_in(expr: str) -> dict[str, set[str]]:
    """The series a PromQL expression reads → the labels it names with them (in its
    selector or its ``by (…)``)."""
    grouped = set(re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr))
    grouping = {label.strip() for group in grouped for label in group.split(",") if label.strip()}
    bare = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", " ", expr)
    bare = re.sub(r'"[^"]*"', '""', bare)  # label values
    bare = re.sub(r"\[[^\]]*\]", " ", bare)  # ranges
    found: dict[str, set[str]] = {}
    for name, selector in re.findall(
        r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b\s*(\{[^}]*\})?(?!\s*\()", bare
    ):
        if name in _KEYWORDS or name.isdigit():
            continue
        found[name] = set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", selector))
    return {name: labels | grouping for name, labels in found.items()}


def _alert_rules() -> list[dict[str, Any]]:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [rule for group in rules["groups"] for rule in group["rules"]]


def _panel_queries() -> list[tuple[str, str]]:
    dashboard = json.loads((DEPLOY / "grafana" / "billing.json").read_text())
    return [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p["targets"]]


def _unknown(expr: str) -> list[str]:
    known = exported()
    problems = []
    for name, labels in series_in(expr).items():
        if name not in known:
            problems.append(f"{name}: no service exports it")
        elif labels - known[name]:
            problems.append(f"{name}: has no label {sorted(labels - known[name])}")
    return problems


def test_every_alert_reads_exported_metrics_and_says_what_to_do() -> None:
    rules = _alert_rules()
    assert len(rules) >= 8
    for rule in rules:
        assert series_in(rule["expr"]), rule["alert"]
        assert _unknown(rule["expr"]) == [], rule["alert"]
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]


def test_every_dashboard_panel_reads_exported_metrics() -> None:
    queries = _panel_queries()
    for title, expr in queries:
        assert series_in(expr), title
        assert _unknown(expr) == [], title


def test_the_operator_is_told_of_each_thing_that_holds_money_back() -> None:
    """Outbox backlog and age, held webhooks, dead letters, consumer lag, reconciliation
    mismatches and failing SaaS collections: each has an alert and a panel."""
    alerted = {name for rule in _alert_rules() for name in series_in(rule["expr"])}
    shown = {name for _, expr in _panel_queries() for name in series_in(expr)}
    wanted = {
        "outbox_backlog_events", "outbox_oldest_event_age_seconds", "webhook_held_events",
        "webhook_held_oldest_event_age_seconds", "events_consumed_total", "consumer_lag_events",
        "reconciliation_checks_total", "saas_collections_failing",
    }  # fmt: skip
    assert wanted <= alerted
    assert wanted <= shown


def test_the_check_finds_a_metric_nobody_exports_and_a_label_it_lacks() -> None:
    assert _unknown('sum by (service) (rate(outbox_published_totl{topic="x"}[5m]))') == [
        "outbox_published_totl: no service exports it"
    ]
    assert _unknown("max by (tenant) (outbox_backlog_events)") == [
        "outbox_backlog_events: has no label ['tenant']"
    ]
    quantile = "histogram_quantile(0.9, sum by (le) (rate(outbox_relay_lag_seconds_bucket[5m])))"
    assert series_in(quantile) == {"outbox_relay_lag_seconds_bucket": {"le"}}
    assert _unknown(quantile) == []
