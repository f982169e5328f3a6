"""One deployment per endpoint at a time: a lease-based lock in the ledger (ENDPOINT#<name> / LOCK).

A deployment asks for the lock with its task token. It gets it when nobody holds it or the holder's
lease has expired (a crashed workflow cannot block the endpoint forever; DynamoDB TTL only cleans up).
Otherwise it waits; of the deployments waiting, only the newest approved version keeps waiting and the
others end Superseded. Releasing hands the lock to the waiting deployment, if any. Every change is a
conditional write on the item's revision, so concurrent requests cannot both win.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from .task_tokens import complete
from .transient import TransientAwsError

LOCK_SK = "LOCK"


@dataclass(frozen=True)
class LockState:
    revision: int = 0
    holder: str = ""
    holder_version: int = 0
    lease_until: int = 0
    waiter: str = ""
    waiter_version: int = 0
    waiter_token: str = ""

    def free(self, now: int) -> bool:
        return not self.holder or self.lease_until < now


@dataclass(frozen=True)
class Decision:
    state: LockState
    granted: str = ""  # token to complete with success (the lock is theirs)
    superseded: tuple[str, str] = ("", "")  # (token, cause) to complete with Superseded
    outcome: Literal["acquired", "waiting", "superseded", "released", "handed-over", "not-held"] = "waiting"


def decide_acquire(state: LockState, execution: str, version: int, token: str, now: int, lease: int) -> Decision:
    if state.holder == execution or state.free(now):
        taken = LockState(
            state.revision + 1, execution, version, now + lease, state.waiter, state.waiter_version, state.waiter_token
        )
        if state.waiter == execution:
            taken = LockState(taken.revision, execution, version, now + lease)
        return Decision(taken, granted=token, outcome="acquired")
    if state.waiter and state.waiter != execution and state.waiter_version >= version:
        cause = f"version {state.waiter_version} is newer and waits for the endpoint"
        return Decision(state, superseded=(token, cause), outcome="superseded")
    displaced = ("", "")
    if state.waiter and state.waiter != execution:
        displaced = (state.waiter_token, f"version {version} is newer and waits for the endpoint")
    waiting = LockState(
        state.revision + 1, state.holder, state.holder_version, state.lease_until, execution, version, token
    )
    return Decision(waiting, superseded=displaced, outcome="waiting")


def decide_release(state: LockState, execution: str, now: int, lease: int) -> Decision:
    if state.holder != execution:
        return Decision(state, outcome="not-held")
    if state.waiter:
        handed = LockState(state.revision + 1, state.waiter, state.waiter_version, now + lease)
        return Decision(handed, granted=state.waiter_token, outcome="handed-over")
    return Decision(LockState(state.revision + 1), outcome="released")


class LockConflict(TransientAwsError):
    """Another request changed the lock first; the caller retries with a fresh read (and the workflow
    retries the step when that keeps happening)."""


class EndpointLock:
    def __init__(self, dynamodb: Any, table: str, endpoint: str, sfn: Any, lease_seconds: int) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._key = {"pk": {"S": f"ENDPOINT#{endpoint}"}, "sk": {"S": LOCK_SK}}
        self._sfn = sfn
        self._lease = lease_seconds

    def read(self) -> LockState:
        item = self._dynamodb.get_item(TableName=self._table, Key=self._key, ConsistentRead=True).get("Item", {})
        text = {k: next(iter(v.values())) for k, v in item.items()}
        return LockState(
            revision=int(text.get("revision", 0)),
            holder=text.get("holder", ""),
            holder_version=int(text.get("holder_version", 0)),
            lease_until=int(text.get("lease_until", 0)),
            waiter=text.get("waiter", ""),
            waiter_version=int(text.get("waiter_version", 0)),
            waiter_token=text.get("waiter_token", ""),
        )

    def _write(self, before: LockState, after: LockState) -> None:
        item = dict(self._key)
        for name, value in vars(after).items():
            if value not in ("", 0) or name == "revision":
                item[name] = {"N": str(value)} if isinstance(value, int) else {"S": value}
        item["expires_at"] = (
            {"N": str(after.lease_until + 86400)} if after.holder else {"N": str(int(time.time()) + 86400)}
        )
        condition = "attribute_not_exists(pk)" if before.revision == 0 else "revision = :revision"
        values = {} if before.revision == 0 else {":revision": {"N": str(before.revision)}}
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression=condition,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except self._dynamodb.exceptions.ConditionalCheckFailedException:
            raise LockConflict("the lock changed meanwhile") from None

    def _apply(self, decide: Any) -> Decision:
        for _ in range(10):
            before = self.read()
            decision: Decision = decide(before, int(time.time()))
            if decision.state != before:
                try:
                    self._write(before, decision.state)
                except LockConflict:
                    continue
            self._notify(decision)
            return decision
        raise LockConflict("the lock kept changing; try again")

    def _notify(self, decision: Decision) -> None:
        token, cause = decision.superseded
        if token:
            complete(self._sfn, token, error="Superseded", cause=cause)  # False when that execution already ended
        if decision.granted:
            complete(self._sfn, decision.granted, output={"Lock": "acquired"})

    def acquire(self, execution: str, version: int, token: str) -> Decision:
        return self._apply(lambda state, now: decide_acquire(state, execution, version, token, now, self._lease))

    def release(self, execution: str) -> Decision:
        return self._apply(lambda state, now: decide_release(state, execution, now, self._lease))
