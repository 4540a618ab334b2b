"""A ladder of offered loads, open loop, climbed by each target in turn with the same bodies
at each rate: where each keeps up, and its ceiling."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bench import webhook_ingest as load

Bodies = list[tuple[str, bytes]]


def step_figures(target: str, rate: float, events: int, outcome: load.Outcome) -> dict[str, Any]:
    return {
        "bench": "djstripe-side-by-side",
        "target": target,
        **load.figures(rate, events, outcome),
    }


def kept_up(step: dict[str, Any]) -> bool:
    """Every event accepted, at (nearly) the offered rate: worth offering more."""
    return (
        not step["failures"]
        and step["accepted"] == step["events"]
        and step["accepted_per_s"] >= 0.95 * step["offered_per_s"]
    )


def sustained(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The step with the highest accepted rate (the ceiling once a step falls behind)."""
    return max(steps, key=lambda step: float(step["accepted_per_s"]))


def side_figures(steps: list[dict[str, Any]], posted: list[str]) -> dict[str, Any]:
    """One target's ladder in short: its ceiling, and the highest load it kept up with."""
    best = sustained(steps)
    kept = [step for step in steps if kept_up(step)]
    easy = kept[-1] if kept else {"offered_per_s": 0, "p50_ms": None, "p99_ms": None}
    return {
        "sustained_per_s": best["accepted_per_s"],
        "p50_ms": best["p50_ms"],
        "p99_ms": best["p99_ms"],
        "kept_up_with_per_s": easy["offered_per_s"],
        "kept_up_p50_ms": easy["p50_ms"],
        "kept_up_p99_ms": easy["p99_ms"],
        "accepted": sum(step["accepted"] for step in steps),
        "posted": len(posted),
    }


@dataclass
class Ladder:
    """Offered rates stepping up, the same bodies at each rate for every target."""

    rates: list[float]
    seconds: float
    make_bodies: Callable[[int], Bodies]
    """``count`` → that many (event id, signed-to-be body) pairs."""
    connections: int = 64
    bodies: dict[float, Bodies] = field(default_factory=dict)

    def climb(self, target: str, url: str, secret: str) -> tuple[list[dict[str, Any]], list[str]]:
        """Offer each rate until one is not kept up with: (each step's figures, ids posted)."""
        if urlsplit(url).hostname not in load.LOOPBACK:
            raise SystemExit(f"refusing to load {url}: loopback targets only")
        steps: list[dict[str, Any]] = []
        posted: list[str] = []
        for rate in self.rates:
            if rate not in self.bodies:
                self.bodies[rate] = self.make_bodies(int(rate * self.seconds))
            bodies = self.bodies[rate]
            outcome = asyncio.run(load.offer_load(url, secret, bodies, rate, self.connections))
            posted += [event_id for event_id, _ in bodies]
            steps.append(step_figures(target, rate, len(bodies), outcome))
            print(json.dumps(steps[-1]), flush=True)
            if not kept_up(steps[-1]):
                break
        return steps, posted
