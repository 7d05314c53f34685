"""ecs-autopilot shared library: typed events, configuration, logic and AWS adapters.

Imported under the same name by every Lambda function (through the layer), the tests and the CLI.
"""

__version__ = "0.1.0"
