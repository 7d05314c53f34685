"""`python -m autopilot.local.iam_report [USAGE.json]`: each function's IAM role (template.yaml, as deployed)
against what the last test run used of it (`.iam-usage.json`, written by the tests when they ran the emulator)."""

from __future__ import annotations

import json
import sys

from autopilot.local.iam import load_policies, report
from autopilot.local.project import find_template

USAGE_FILE = ".iam-usage.json"


def main(argv: list[str] | None = None) -> int:
    template = find_template()
    args = sys.argv[1:] if argv is None else argv
    usage_path = template.parent / (args[0] if args else USAGE_FILE)
    try:
        used = json.loads(usage_path.read_text())
    except FileNotFoundError:
        print(f"autopilot: error: {usage_path} not found: run the tests first (make iam-report)", file=sys.stderr)
        return 1
    print(report(load_policies(template), used))
    return 0


if __name__ == "__main__":
    sys.exit(main())
