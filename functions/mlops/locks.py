"""One deployment per endpoint at a time: a lease-based lock in the ledger (ENDPOINT#<name> / LOCK).

A deployment asks for the lock with its task token. It gets it when nobody holds it or the holder's
lease has expired (a crashed workflow cannot block the endpoint forever; DynamoDB TTL only cleans up).
Otherwise it waits; of the deployments waiting, only the newest approved version keeps waiting and the
others end Superseded. Releasing hands the lock to the waiting deployment, if any. Every change is a
conditional write on the item's revision, so concurrent requests cannot both win.

A token is completed after the write that decides it, and that call may fail (the workflow then retries
the step). So the item keeps the token a release handed the lock to (while that holder keeps it) and the
token of the waiter an acquire displaced: the same execution asking again completes it again, which is
harmless when it went through the first time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
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
    handed_by: str = ""  # the execution that handed the lock to the holder...
    handed_token: str = ""  # ...and the holder's token it completed
    displaced_by: str = ""  # the waiter that displaced an older one...
    displaced_token: str = ""  # ...and the older one's token it failed with Superseded

    def free(self, now: int) -> bool:
        return not self.holder or self.lease_until < now


@dataclass(frozen=True)
class Decision:
    state: LockState
    granted: str = ""  # token to complete with success (the lock is theirs)
    superseded: tuple[str, str] = ("", "")  # (token, cause) to complete with Superseded
    outcome: Literal["acquired", "waiting", "superseded", "released", "handed-over", "not-held"] = "waiting"


def _newer(version: int) -> str:
    return f"version {version} is newer and waits for the endpoint"


def _displaced_again(state: LockState, execution: str, version: int) -> tuple[str, str]:
    """The Superseded failure this execution sent an older waiter, to send again when it asks again."""
    return (state.displaced_token, _newer(version)) if state.displaced_by == execution else ("", "")


def decide_acquire(state: LockState, execution: str, version: int, token: str, now: int, lease: int) -> Decision:
    if state.holder == execution or state.free(now):
        taken = replace(
            state, revision=state.revision + 1, holder=execution, holder_version=version, lease_until=now + lease
        )
        if state.holder != execution:  # a new holder: nobody's hand-over is to be told again
            taken = replace(taken, handed_by="", handed_token="")
        if state.waiter == execution:
            taken = replace(taken, waiter="", waiter_version=0, waiter_token="")
        superseded = _displaced_again(state, execution, version)
        return Decision(taken, granted=token, superseded=superseded, outcome="acquired")
    if state.waiter and state.waiter != execution and state.waiter_version >= version:
        return Decision(state, superseded=(token, _newer(state.waiter_version)), outcome="superseded")
    waiting = replace(state, revision=state.revision + 1, waiter=execution, waiter_version=version, waiter_token=token)
    if state.waiter and state.waiter != execution:
        waiting = replace(waiting, displaced_by=execution, displaced_token=state.waiter_token)
    return Decision(waiting, superseded=_displaced_again(waiting, execution, version), outcome="waiting")


def decide_release(state: LockState, execution: str, now: int, lease: int) -> Decision:
    if state.holder != execution:
        if state.handed_by == execution:  # a retried release: its hand-over may not have been told
            return Decision(state, granted=state.handed_token, outcome="handed-over")
        return Decision(state, outcome="not-held")
    if state.waiter:
        handed = replace(
            state,
            revision=state.revision + 1,
            holder=state.waiter,
            holder_version=state.waiter_version,
            lease_until=now + lease,
            waiter="",
            waiter_version=0,
            waiter_token="",
            handed_by=execution,
            handed_token=state.waiter_token,
        )
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
            handed_by=text.get("handed_by", ""),
            handed_token=text.get("handed_token", ""),
            displaced_by=text.get("displaced_by", ""),
            displaced_token=text.get("displaced_token", ""),
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
