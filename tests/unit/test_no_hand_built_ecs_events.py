"""No test or demo step builds an ECS deployment, task or service event by hand: each comes from the emulated
ECS (autopilot.local.ecs), which shapes it like the AWS sample of its kind (tests/integration/test_ecs_engine.py).

Reading an ECS sample is allowed only where the sample itself, unchanged, is what is tested: unit tests of the
parsers and classifiers, the template's routing tests, the CLI replaying the documented files, the bounded-input
tests (which break a sample on purpose: the engine never sends such an event) and the engine's own shape test.
"""

from __future__ import annotations

import re

from autopilot.local.sample_events import EventFactory
from tests.conftest import ROOT

ECS_SAMPLE = re.compile(r"(?<![\w-])ecs-(deployment|task|service)-[a-z-]+\.json")
HAND_BUILT = re.compile(
    r"\"detail-type\":\s*\"ECS (Deployment State Change|Task State Change|Service Action)\"|deployment_event\("
)
ALLOWED = {
    "tests/integration/test_bounded_input.py": "malformed on purpose",
    "tests/integration/test_ecs_engine.py": "the samples are what the engine's events are compared with",
    "tests/e2e/test_operator_path.py": "replays the documented files unchanged through the CLI",
}


def test_no_integration_test_sweep_or_demo_step_builds_an_ecs_event() -> None:
    places = [
        *(ROOT / "tests" / "integration").glob("*.py"),
        *(ROOT / "tests" / "e2e").glob("*.py"),
        ROOT / "tests" / "sweep.py",
        ROOT / "tests" / "faults.py",
        *(ROOT / "layers" / "autopilot" / "autopilot" / "local").glob("*.py"),
    ]
    found = []
    for path in places:
        name = str(path.relative_to(ROOT))
        if name in ALLOWED:
            continue
        text = path.read_text(encoding="utf-8")
        found += [f"{name}: {match.group(0)}" for match in ECS_SAMPLE.finditer(text)]
        found += [f"{name}: {match.group(0)}" for match in HAND_BUILT.finditer(text)]
    assert found == []


def test_the_event_factory_makes_no_ecs_events() -> None:
    assert not [name for name in dir(EventFactory) if "ecs" in name.lower()]
