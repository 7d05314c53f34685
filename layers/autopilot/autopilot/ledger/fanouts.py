"""A push handed to work items (`autopilot.fanout`): how far it got. One row per push: the totals, what each
finished work item counted, and which task-definition families are done (so a work item delivered twice is
counted once)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from autopilot.ledger.keys import FANOUT_SK, push_pk
from autopilot.ledger.records import FanOutProgress
from autopilot.ledger.table import Repository, from_item, serialize, to_item

PROGRESS_DAYS = 30


class FanOutRepository(Repository):
    def start(self, progress: FanOutProgress) -> None:
        """The push's row, unless a retry of the push wrote it already (its counts stand)."""
        values = {"PK": push_pk(progress.event_id), "SK": FANOUT_SK, **progress.model_dump(exclude_none=True)}
        values["expiration"] = progress.started_at + PROGRESS_DAYS * 86400
        values.pop("done", None)
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.put_item(
                TableName=self.table, Item=to_item(values), ConditionExpression="attribute_not_exists(PK)"
            )

    def finish(self, event_id: str, families: Mapping[str, Mapping[str, int]]) -> FanOutProgress | None:
        """Count finished work items (family → outcome counts) in one write when none was counted before; a
        family counted already (a redelivered work item) is left out. The row as it is now (None: no row)."""
        progress = self._add(event_id, families)
        if progress is not None or len(families) == 1:
            return progress if progress is not None else self.get(event_id)
        for family, counts in families.items():  # some were counted: one by one, each once
            progress = self._add(event_id, {family: counts}) or progress
        return progress or self.get(event_id)

    def get(self, event_id: str) -> FanOutProgress | None:
        item = self.get_item(push_pk(event_id), FANOUT_SK)
        return _progress(item) if item else None

    def _add(self, event_id: str, families: Mapping[str, Mapping[str, int]]) -> FanOutProgress | None:
        totals: dict[str, int] = {"deployed": 0, "failed": 0, "skipped": 0}
        for counts in families.values():
            for name in totals:
                totals[name] += int(counts.get(name, 0))
        names = {f":f{index}": family for index, family in enumerate(sorted(families))}
        values: dict[str, Any] = {
            ":done": {"SS": sorted(families)},
            **{f":{name}": serialize(count) for name, count in totals.items()},
            **{placeholder: serialize(family) for placeholder, family in names.items()},
        }
        condition = " AND ".join(
            ["attribute_exists(PK)", *(f"NOT contains(done, {placeholder})" for placeholder in names)]
        )
        try:
            response = self._client.update_item(
                TableName=self.table,
                Key=to_item({"PK": push_pk(event_id), "SK": FANOUT_SK}),
                UpdateExpression="ADD done :done, deployed :deployed, failed :failed, skipped :skipped",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return _progress(from_item(response["Attributes"]))


def _progress(item: Mapping[str, Any]) -> FanOutProgress:
    fields = {key: value for key, value in item.items() if key in FanOutProgress.model_fields}
    fields["done"] = len(item.get("done", ()))
    return FanOutProgress.model_validate(fields)
