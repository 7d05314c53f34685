"""The `autopilot` command (`pip install 'ecs-autopilot[cli]'`: click, rich and the local AWS's moto)."""

import sys

CLI_EXTRA = {"click", "rich", "yaml", "moto", "regex", "samtranslator"}


def main() -> None:
    try:
        from autopilot.cli.main import main as run
    except ModuleNotFoundError as error:
        if error.name and error.name.split(".")[0] in CLI_EXTRA:
            missing = f"{error.name} is missing"
            sys.exit(f"autopilot: the command needs the cli extra ({missing}): pip install 'ecs-autopilot[cli]'")
        raise
    run()
