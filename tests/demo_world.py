"""The demo course (`podium demo`) as a world (tests/worlds.py): built once per run, copied into the tests that look
at it. Building it records and scores some 400 simulated uploads, about 20 seconds.

`build_demo` places the demo's windows around the wall clock when it runs, not around `Worlds.now`; the windows
are whole days, so a copy taken later in the run shows every competition in the same state.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from podium.runtime import Runtime
from podium.services.demo import build_demo

DEMO_WORLD = "demo course"
DEMO_SEED = 7


def build_demo_world(rt: Runtime, folder: Path, now: datetime) -> list[str]:
    """What `podium demo --seed 7` leaves; the lines it prints (the accounts)."""
    return build_demo(rt, seed=DEMO_SEED, echo=lambda _line: None)


def copy_demo(worlds, rt: Runtime, tmp_path: Path) -> list[str]:
    """The demo world copied into the test's database and data dir (the test asks for `world_database`)."""
    return worlds.copy_into(rt, tmp_path, DEMO_WORLD, build_demo_world)
