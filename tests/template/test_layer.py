"""The layer ships what Lambda runs, and each function's import loads only its own wiring.

What importing costs is measured by `make bench` (cold_start, cold_invoke); these tests hold what does not
depend on the machine: which files the layer has, which modules a handler's import loads.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "autopilot"
FUNCTIONS = sorted(path.parent.name for path in (ROOT / "functions").glob("*/app.py"))

# each function's own logic; another function's never loads with it
LOGIC = {
    "chatops": "autopilot.chatops.front",
    "deploy": "autopilot.deploy",
    "inventory": "autopilot.inventory",
    "notify": "autopilot.notify.deliver",
    "rollback": "autopilot.rollback",
    "spot_drain": "autopilot.drain",
    "task_watch": "autopilot.taskwatch",
}
# loaded on first use, never by importing a handler: the SDKs, chat clients, Powertools utilities that wrap
# boto3, the X-Ray SDK (not used at all), the CLI and the local AWS
NEVER_AT_IMPORT = (
    "boto3",
    "botocore.session",
    "httpx",
    "slack_sdk",
    "nodesemver",
    "aws_xray_sdk",
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.parameters",
    "aws_lambda_powertools.utilities.batch",
    "autopilot.cli",
    "autopilot.local",
    "yaml",
    "moto",
)


def requirements() -> dict[str, str]:
    pins = {}
    for text in (LAYER / "requirements.txt").read_text().splitlines():
        line = text.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[name.lower()] = version
    return pins


def test_the_layer_pins_each_dependency_and_boto3_with_its_own_botocore() -> None:
    pins = requirements()
    assert all(re.fullmatch(r"[a-z0-9-]+", name) and version for name, version in pins.items()), pins
    assert pins["boto3"] == pins["botocore"]
    assert not {"click", "rich", "pyyaml", "moto", "regex", "aws-sam-translator", "aws-xray-sdk", "pytest"} & set(pins)


def test_the_layer_package_has_no_cli_and_no_local_aws(tmp_path: Path) -> None:
    subprocess.run(
        ["make", "--no-print-directory", "-s", "-C", str(LAYER), f"ARTIFACTS_DIR={tmp_path}", "layer-package"],
        check=True,
    )
    package = tmp_path / "python" / "autopilot"
    shipped = {path.relative_to(package).as_posix() for path in package.rglob("*.py")}
    assert "handlers/deploy.py" in shipped
    assert "observability.py" in shipped
    assert not [name for name in shipped if name.startswith(("cli/", "local/"))]
    assert not list(package.rglob("__pycache__"))
    for path in package.rglob("*.py"):  # nothing shipped reaches for what is not shipped
        assert not re.search(r"^\s*(from|import) autopilot\.(cli|local)\b", path.read_text(), re.M), path


def loaded_by_import(function: str) -> set[str]:
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(ROOT / 'functions' / function)!r})\n"
        "import app\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    environment = {"POWERTOOLS_SERVICE_NAME": function, "AWS_REGION": "us-west-2", "PATH": "/usr/bin:/bin"}
    output = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, check=True, text=True)
    return set(json.loads(output.stdout))


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_handler_import_loads_its_own_logic_and_no_sdk(function: str) -> None:
    modules = loaded_by_import(function)
    assert f"autopilot.handlers.{function}" in modules
    assert LOGIC[function] in modules
    others = {logic for name, logic in LOGIC.items() if name != function}
    assert not others & modules, f"{function} loads another function's logic: {sorted(others & modules)}"
    early = sorted(
        name for name in modules for prefix in NEVER_AT_IMPORT if name == prefix or name.startswith(prefix + ".")
    )
    assert not early, f"{function} loads at import what it should load on first use: {early}"
