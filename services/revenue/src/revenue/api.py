"""revenue routes."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["revenue"])
