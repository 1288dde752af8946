"""The local scheduler's clockwork (no services: its functions here are the test's own) and its
schedule, held to template.yaml's."""

from __future__ import annotations

import re
from pathlib import Path

from chalicelib.runtime.scheduler import SCHEDULE, Scheduled, Scheduler

ROOT = Path(__file__).resolve().parents[2]
calls: list[str] = []


def ping(event, context):
    calls.append("ping")
    return {"ok": True}


def hourly(event, context):
    calls.append("hourly")
    return {"ok": True}


def broken(event, context):
    raise RuntimeError("boom")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_everything_runs_at_start_then_each_on_its_own_rate():
    calls.clear()
    clock = Clock()
    schedule = Scheduler(
        (Scheduled("ping", f"{__name__}.ping", 60), Scheduled("hourly", f"{__name__}.hourly", 3600)),
        clock=clock,
    )
    assert schedule.tick() == {"ping": {"ok": True}, "hourly": {"ok": True}}
    clock.now = 59.9
    assert schedule.tick() == {} and schedule.seconds_to_next() == 60 - 59.9
    clock.now = 60
    assert list(schedule.tick()) == ["ping"]
    for minute in range(2, 61):
        clock.now = minute * 60
        schedule.tick()
    assert calls.count("ping") == 61 and calls.count("hourly") == 2


def test_a_failing_function_does_not_stop_the_others():
    calls.clear()
    schedule = Scheduler(
        (Scheduled("broken", f"{__name__}.broken", 60), Scheduled("ping", f"{__name__}.ping", 60)),
        clock=Clock(),
    )
    results = schedule.tick()
    assert results["broken"] == "failed: RuntimeError: boom" and results["ping"] == {"ok": True}


def _rate_s(expression: str) -> int:
    number, unit = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression).groups()
    return int(number) * {"minute": 60, "hour": 3600, "day": 86400}[unit.rstrip("s")]


def test_the_local_schedule_is_template_yamls():
    from cfnlint.decode import cfn_yaml

    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    scheduled = {}
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        for event in (props.get("Events") or {}).values():
            if event.get("Type") == "Schedule":
                scheduled[props["Handler"]] = _rate_s(event["Properties"]["Schedule"])
    assert scheduled == {entry.handler: entry.every_s for entry in SCHEDULE}
