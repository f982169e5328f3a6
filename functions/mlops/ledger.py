"""The ledger: one DynamoDB table recording what the automation decided, when and why.

Keys: `pk` names the subject (an endpoint, a model version, an alarm, a pipeline execution),
`sk` orders its entries. Items are written once (conditional put), so a duplicate event
finds its entry already there and only bumps a counter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def earlier(moment: str, than: str) -> bool:
    """Whether one ISO 8601 time (an event's, an alarm's, a workflow's) is before another; False if unreadable."""
    try:
        first, second = (datetime.fromisoformat(text.replace("Z", "+00:00")) for text in (moment, than))
        return first < second
    except (ValueError, TypeError):  # (TypeError: one of them carries no time zone)
        return False


def _attribute(value: object) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    return {"S": str(value)}


def _plain(attribute: dict[str, Any]) -> object:
    ((kind, value),) = attribute.items()
    if kind == "N":
        number = float(value)
        return int(number) if number.is_integer() else number
    return value


class Ledger:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self._table = table_name

    @staticmethod
    def _item(pk: str, sk: str, fields: dict[str, object]) -> dict[str, Any]:
        item = {"pk": {"S": pk}, "sk": {"S": sk}, "recorded_at": {"S": now_iso()}}
        item.update({name: _attribute(value) for name, value in fields.items() if value is not None})
        return item

    def record_once(self, pk: str, sk: str, **fields: object) -> bool:
        """Write the entry unless it exists. True when this call wrote it."""
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item=self._item(pk, sk, fields),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def put(self, pk: str, sk: str, **fields: object) -> None:
        """Write the entry, replacing what was there."""
        self._dynamodb.put_item(TableName=self._table, Item=self._item(pk, sk, fields))

    def get(self, pk: str, sk: str) -> dict[str, object] | None:
        item = self._dynamodb.get_item(
            TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        ).get("Item")
        return {name: _plain(value) for name, value in item.items()} if item else None

    def annotate(self, pk: str, sk: str, **fields: object) -> None:
        """Add fields to an existing entry (or create it with just these)."""
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": _attribute(value) for i, value in enumerate(fields.values())}
        self._dynamodb.update_item(
            TableName=self._table,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def mark_completed(self, pk: str, sk: str, token: str, outcome: str) -> bool:
        """Mark a waiting entry completed, once: True for the caller that did it."""
        try:
            self._dynamodb.update_item(
                TableName=self._table,
                Key={"pk": {"S": pk}, "sk": {"S": sk}},
                UpdateExpression="SET completed_at = :now, outcome = :outcome",
                ConditionExpression="#token = :token AND attribute_not_exists(completed_at)",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={
                    ":now": {"S": now_iso()},
                    ":outcome": {"S": outcome},
                    ":token": {"S": token},
                },
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def count_duplicate(self, pk: str, sk: str) -> int:
        """Count one more arrival of an already recorded event; returns the new count."""
        response = self._dynamodb.update_item(
            TableName=self._table,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            UpdateExpression="ADD duplicates :one SET last_duplicate_at = :now",
            ExpressionAttributeValues={":one": {"N": "1"}, ":now": {"S": now_iso()}},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["duplicates"]["N"])

    def commit_claims(self, pk: str, sk: str, claims: list[str], pending: dict[str, object], **fields: object) -> bool:
        """In one transaction: the entry `sk` (with `fields`), one claim per `claims` sort key, each written only if
        absent, and the subject's PENDING entry (`pending`: the work left once committed, `published` false), which
        may replace a published one only. False, and nothing written, when a claim or the entry exists already
        (another run committed first) or the last PENDING work is not published yet. At most 98 claims."""
        if len(claims) > 98:
            raise ValueError(f"{len(claims)} claims in one transaction: at most 98")
        absent = "attribute_not_exists(pk)"
        items = [
            {"Put": {"TableName": self._table, "Item": self._item(pk, sk, fields), "ConditionExpression": absent}},
            {
                "Put": {
                    "TableName": self._table,
                    "Item": self._item(pk, "PENDING", {**pending, "run": sk, "published": False}),
                    "ConditionExpression": f"{absent} OR published = :yes",
                    "ExpressionAttributeValues": {":yes": {"BOOL": True}},
                }
            },
            *(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": self._item(pk, claim, {"run": sk}),
                        "ConditionExpression": absent,
                    }
                }
                for claim in claims
            ),
        ]
        try:
            self._dynamodb.transact_write_items(TransactItems=items)
        except self._dynamodb.exceptions.TransactionCanceledException:
            return False
        return True

    def entries(self, pk: str) -> list[dict[str, object]]:
        """All entries of one subject, oldest first, as plain values."""
        items: list[dict[str, object]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        while True:
            page = self._dynamodb.query(**kwargs)
            items.extend({name: _plain(value) for name, value in item.items()} for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
