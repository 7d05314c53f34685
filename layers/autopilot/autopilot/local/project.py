"""Finding the project (template.yaml and the function folders) and running handlers in-process."""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from autopilot.local.routing import Rule, load_rules, load_template, route

Handler = Callable[[dict[str, Any], Any], Any]


class ProjectNotFoundError(FileNotFoundError):
    pass


def find_template(start: Path | None = None) -> Path:
    """template.yaml in the current directory or a parent, else next to this installed package's checkout."""
    candidates = [start or Path.cwd(), *(start or Path.cwd()).parents, *Path(__file__).resolve().parents]
    for folder in candidates:
        template = folder / "template.yaml"
        if template.is_file() and (folder / "functions").is_dir():
            return template
    raise ProjectNotFoundError(
        "template.yaml not found: run autopilot from the ecs-autopilot checkout or pass --template"
    )


@dataclass(frozen=True)
class LambdaContextStub:
    """The attributes of a Lambda context that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


class Project:
    def __init__(self, template_path: Path) -> None:
        self.template_path = template_path
        self.root = template_path.parent
        self.template = load_template(template_path)
        self.rules: list[Rule] = load_rules(self.template)

    def route(self, event: dict[str, Any]) -> list[str]:
        return route(event, self.rules)

    def code_uri(self, function: str) -> Path:
        properties = self.template["Resources"][function]["Properties"]
        return self.root / str(properties["CodeUri"])

    def handler(self, function: str) -> Handler:
        module = _load_module(str(self.code_uri(function) / "app.py"), f"autopilot_function_{function}")
        handler: Handler = module.lambda_handler
        return handler

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        """Run the function's handler; its AWS calls are the function's own (checked against its role in
        template.yaml once the local stack enforces IAM)."""
        from autopilot.local.iam import running_as  # iam reads the emulator's constants, which import this module

        handler = self.handler(function)
        with running_as(function):
            return handler(event, LambdaContextStub(function_name=function))

    def resource(self, logical_id: str) -> dict[str, Any]:
        resource: dict[str, Any] = self.template["Resources"][logical_id]
        return resource

    def resources_of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.template["Resources"].items() if res.get("Type") == kind}


@cache
def _load_module(path: str, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ProjectNotFoundError(f"cannot load handler {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
