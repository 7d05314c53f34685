"""Who may run which ChatOps command, by the configuration document's chatops section."""

from __future__ import annotations

import pytest

from autopilot.chatops.authorize import Caller, authorize
from autopilot.config.document import ChatOpsConfig, ConfigDocument, ConfigDocumentError

CONFIG = ChatOpsConfig.model_validate(
    {
        "channels": ["C-OPS", "C-DEV"],
        "commands": {
            "approve": {"users": ["U-LEAD"], "user_groups": ["S-ONCALL"]},
            "rollback": {"channels": ["C-OPS"]},
            "history": {"users": ["U-AUDIT"]},
        },
    }
)


@pytest.mark.parametrize("command", ["status", "history", "plan"])
def test_read_only_commands_are_for_everyone_in_the_configured_channels(command: str) -> None:
    refusal = authorize(command, Caller("U-ANYONE", "C-DEV"), CONFIG)
    if command == "history":  # an entry replaces the default
        assert refusal is not None and refusal.status == 403
    else:
        assert refusal is None


@pytest.mark.parametrize("command", ["status", "approve"])
def test_nothing_is_taken_in_a_channel_not_configured(command: str) -> None:
    refusal = authorize(command, Caller("U-LEAD", "C-ELSEWHERE"), CONFIG)
    assert refusal is not None and refusal.status == 403
    assert "C-ELSEWHERE" in refusal.reason


def test_a_command_is_for_the_users_groups_and_channels_its_entry_names() -> None:
    assert authorize("approve", Caller("U-LEAD", "C-DEV"), CONFIG) is None
    assert authorize("approve", Caller("U-NEW", "C-DEV", frozenset({"S-ONCALL"})), CONFIG) is None
    assert authorize("rollback", Caller("U-NEW", "C-OPS"), CONFIG) is None
    refused = authorize("approve", Caller("U-NEW", "C-OPS", frozenset({"S-OTHER"})), CONFIG)
    assert refused is not None and refused.status == 403 and "U-NEW" in refused.reason


@pytest.mark.parametrize("command", ["freeze", "unfreeze", "reject", "continue"])
def test_a_command_that_changes_something_is_for_nobody_without_an_entry(command: str) -> None:
    refusal = authorize(command, Caller("U-LEAD", "C-OPS"), CONFIG)
    assert refusal is not None and refusal.status == 403 and f"chatops.commands.{command}" in refusal.reason


def test_the_default_document_takes_no_command_anywhere() -> None:
    assert authorize("status", Caller("U-LEAD", "C-OPS"), ConfigDocument().chatops) is not None


@pytest.mark.parametrize(
    "chatops",
    [{"commands": {"deploy-everything": {"users": ["U1"]}}}, {"commands": {"approve": {"user": ["U1"]}}}],
)
def test_an_unknown_command_or_field_is_a_configuration_error(chatops: dict) -> None:
    with pytest.raises(ConfigDocumentError, match="chatops"):
        ConfigDocument.from_json(__import__("json").dumps({"chatops": chatops}), source="test")
