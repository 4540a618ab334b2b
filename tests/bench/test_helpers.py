"""The benchmarks' own helpers: when a ladder stops climbing, which figure is the ceiling,
where a profile sample is counted, and that dj-stripe's pins stay out of the lock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import djstripe, ladder
from bench.end_to_end_latency import paced
from bench.pipeline import Delivery
from bench.profile_ingest import room_of, rooms
from bench.tooling import machine_reference

ROOT = Path(__file__).resolve().parents[2]


def step(offered: float, accepted_per_s: float, accepted: int, events: int) -> dict[str, Any]:
    rates = {"offered_per_s": offered, "accepted_per_s": accepted_per_s}
    return {**rates, "accepted": accepted, "events": events, "failures": {}}


@pytest.mark.unit
def test_a_step_is_kept_up_with_only_when_everything_is_accepted_at_the_offered_rate() -> None:
    assert ladder.kept_up(step(100, 99.0, 800, 800))
    assert not ladder.kept_up(step(100, 80.0, 800, 800))  # queued behind
    assert not ladder.kept_up(step(100, 99.0, 799, 800))  # one refused or timed out
    timed_out = {**step(100, 99.0, 800, 800), "failures": {"TimeoutError": 1}}
    assert not ladder.kept_up(timed_out)


@pytest.mark.unit
def test_the_sustained_figure_is_the_best_accepted_rate_of_the_ladder() -> None:
    steps = [step(25, 25.0, 200, 200), step(50, 41.5, 400, 400), step(100, 38.0, 700, 800)]
    assert ladder.sustained(steps)["accepted_per_s"] == 41.5


@pytest.mark.unit
def test_events_carry_each_real_object_under_a_fresh_id_with_its_type() -> None:
    objects = [{"id": "cus_1", "object": "customer"}, {"id": "in_1", "object": "invoice"}]
    events = djstripe.events_for(objects, 5)
    bodies = [json.loads(body) for _, body in events]
    assert [body["type"] for body in bodies] == [
        "customer.updated",
        "invoice.paid",
        "customer.updated",
        "invoice.paid",
        "customer.updated",
    ]
    assert [body["data"]["object"]["id"] for body in bodies][:2] == ["cus_1", "in_1"]
    assert len({event_id for event_id, _ in events}) == 5
    assert all(body["id"] == event_id for (event_id, _), body in zip(events, bodies, strict=True))


@pytest.mark.unit
def test_a_profile_sample_counts_for_its_innermost_known_frame() -> None:
    commit = "flush (webhook_ingest/repository/group_commit.py:80)"
    asyncpg = "execute (asyncpg/connection.py:300)"
    verify = "verify (webhook_ingest/rules/verification.py:40)"
    lane = "webhook (webhook_ingest/api/fast_lane.py:100)"
    assert room_of(f"run (uvicorn/server.py:1);{lane};{verify}").startswith("verify signature")
    assert room_of(f"{lane};{commit};{asyncpg}").startswith("asyncpg")
    assert room_of(f"{lane};{commit}").startswith("group commit")
    assert room_of("something (elsewhere.py:1)") == "other"
    collapsed = f"{lane};{verify} 7\n{lane};{commit};{asyncpg} 3\n"
    assert rooms(collapsed) == {
        "verify signature + parse (HMAC, orjson)": 7,
        "asyncpg (protocol, codecs)": 3,
    }


@pytest.mark.unit
def test_the_database_url_becomes_a_plain_dsn_on_the_chosen_database() -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:5544/billing"
    assert djstripe.asyncpg_dsn(url) == "postgresql://postgres@127.0.0.1:5544/billing"
    assert djstripe.asyncpg_dsn(url, "djstripe_bench").endswith(":5544/djstripe_bench")


@pytest.mark.unit
def test_django_and_dj_stripe_never_enter_the_lock() -> None:
    names = {
        line.split('"')[1]
        for line in (ROOT / "uv.lock").read_text().splitlines()
        if line.startswith("name = ")
    }
    assert names.isdisjoint({"django", "dj-stripe", "gunicorn", "py-spy"})


def test_paced_deliveries_interleave_accounts_and_keep_each_account_s_order() -> None:
    def delivery(stream: str, number: int) -> Delivery:
        return Delivery(f"evt_{stream}{number}", "/stripe/webhooks", b"{}", stream, "x", None)

    offered = [delivery("a", n) for n in range(3)] + [delivery("b", n) for n in range(2)]
    order = [d.event_id for d in paced(offered)]
    assert order == ["evt_a0", "evt_b0", "evt_a1", "evt_b1", "evt_a2"]


@pytest.mark.unit
def test_the_machine_reference_names_the_processor_and_times_the_fixed_loop() -> None:
    found = machine_reference()
    assert found["bench"] == "machine"
    assert found["cpu"] != "unknown"  # read from /proc/cpuinfo
    assert found["cores"] >= 1
    assert 0 < found["reference_loop_s"] < 60
