"""The canary's plain decisions: the plan and the lock, without AWS."""

from __future__ import annotations

import pytest

from mlops.canary import InvalidSteps, candidate_colour, parse_steps, plan_deployment, plan_restore
from mlops.locks import LockState, decide_acquire, decide_release

V1 = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/1"
V2 = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn-models/2"


def endpoint(config: str, weights: dict[str, float]) -> dict[str, object]:
    return {
        "EndpointConfigName": config,
        "ProductionVariants": [{"VariantName": n, "CurrentWeight": w} for n, w in weights.items()],
    }


def config(*variants: str) -> dict[str, object]:
    return {
        "ProductionVariants": [
            {"VariantName": v, "ModelName": f"model-{v}", "InstanceType": "ml.m5.large", "InitialInstanceCount": 2}
            for v in variants
        ]
    }


def plan(**overrides: object):  # type: ignore[no-untyped-def]
    arguments = {
        "candidate_arn": V2,
        "candidate_version": 2,
        "resource_name": "churn-v2-abc",
        "endpoint": endpoint("churn-v1-x", {"Blue": 1.0}),
        "config": config("Blue"),
        "live_package_arn": V1,
        "steps": [10, 50, 100],
        "instance_type": "ml.c5.xlarge",
        "instance_count": 3,
    }
    arguments.update(overrides)
    return plan_deployment(**arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "steps"), [("10,50,100", [10, 50, 100]), ("100", [100]), ("1, 5,25,100", [1, 5, 25, 100])]
)
def test_steps_parse(text: str, steps: list[int]) -> None:
    assert parse_steps(text) == steps


@pytest.mark.parametrize("text", ["", "10,50", "50,10,100", "10,10,100", "0,100", "ten,100", "10,150"])
def test_bad_steps_are_refused(text: str) -> None:
    with pytest.raises(InvalidSteps):
        parse_steps(text)


def test_colours_alternate_and_an_adopted_variant_gets_blue_beside_it() -> None:
    assert candidate_colour("Blue") == "Green"
    assert candidate_colour("Green") == "Blue"
    assert candidate_colour("AllTraffic") == "Blue"


def test_no_endpoint_means_a_first_deployment_with_the_candidate_only() -> None:
    first = plan(endpoint=None, config=None, live_package_arn=None)
    assert first.Kind == "First"
    assert [(v["VariantName"], v["InitialVariantWeight"]) for v in first.ProductionVariants] == [("Blue", 1.0)]


def test_the_live_version_is_already_live() -> None:
    assert plan(candidate_arn=V1).Kind == "AlreadyLive"


def test_a_canary_keeps_the_live_variant_and_adds_the_candidate_without_traffic() -> None:
    canary = plan()
    assert canary.Kind == "Canary"
    assert (canary.LiveVariant, canary.CandidateVariant, canary.PreviousConfigName) == ("Blue", "Green", "churn-v1-x")
    live, candidate = canary.ProductionVariants
    assert (
        live["VariantName"],
        live["ModelName"],
        live["InstanceType"],
        live["InitialInstanceCount"],
        live["InitialVariantWeight"],
    ) == ("Blue", "model-Blue", "ml.m5.large", 2, 1.0)
    assert (
        candidate["VariantName"],
        candidate["ModelName"],
        candidate["InitialInstanceCount"],
        candidate["InitialVariantWeight"],
    ) == ("Green", "churn-v2-abc", 3, 0.0)
    assert [[w["DesiredWeight"] for w in s["Weights"]] for s in canary.Steps] == [[0.9, 0.1], [0.5, 0.5], [0.0, 1.0]]
    assert canary.RollbackWeights == [
        {"VariantName": "Blue", "DesiredWeight": 1.0},
        {"VariantName": "Green", "DesiredWeight": 0.0},
    ]


def test_after_a_promotion_the_heaviest_variant_is_the_live_one() -> None:
    canary = plan(endpoint=endpoint("churn-v2-abc", {"Blue": 0.0, "Green": 1.0}), config=config("Blue", "Green"))
    assert (canary.LiveVariant, canary.CandidateVariant) == ("Green", "Blue")


def test_restore_without_a_previous_version_changes_nothing() -> None:
    live = {"model_package_arn": V1, "previous_endpoint_config_name": "none"}
    restore = plan_restore(
        live=live,
        endpoint=endpoint("c1", {"Blue": 1.0}),
        config=config("Blue"),
        target_arn=None,
        target_status=None,
        resource_name="r",
        instance_type="ml.m5.large",
        instance_count=1,
    )
    assert restore["Kind"] == "NoPreviousVersion"


def test_restore_of_a_named_version_needs_it_approved() -> None:
    live = {"model_package_arn": V2, "previous_endpoint_config_name": "c1"}
    common = {
        "live": live,
        "endpoint": endpoint("c2", {"Green": 1.0}),
        "config": config("Green"),
        "resource_name": "r",
        "instance_type": "t",
        "instance_count": 1,
    }
    assert plan_restore(target_arn=V1, target_status="Rejected", **common)["Kind"] == "NotApproved"  # type: ignore[arg-type]
    assert plan_restore(target_arn=V2, target_status="Approved", **common)["Kind"] == "AlreadyLive"  # type: ignore[arg-type]
    version = plan_restore(target_arn=V1, target_status="Approved", **common)  # type: ignore[arg-type]
    assert (version["Kind"], version["Variant"], version["ConfigName"]) == ("Version", "Blue", "r")


NOW, LEASE = 1_000_000, 3600


def test_a_free_or_expired_lock_is_granted() -> None:
    assert decide_acquire(LockState(), "e1", 2, "t1", NOW, LEASE).granted == "t1"
    expired = LockState(revision=4, holder="e0", holder_version=1, lease_until=NOW - 1)
    decision = decide_acquire(expired, "e1", 2, "t1", NOW, LEASE)
    assert (decision.outcome, decision.state.holder, decision.state.lease_until) == ("acquired", "e1", NOW + LEASE)


def test_a_held_lock_makes_the_newest_version_wait_and_supersedes_older_waiters() -> None:
    held = LockState(revision=1, holder="e2", holder_version=2, lease_until=NOW + 10)
    v3 = decide_acquire(held, "e3", 3, "t3", NOW, LEASE)
    assert (v3.outcome, v3.state.waiter, v3.granted) == ("waiting", "e3", "")
    v4 = decide_acquire(v3.state, "e4", 4, "t4", NOW, LEASE)
    assert (v4.outcome, v4.state.waiter, v4.superseded[0]) == ("waiting", "e4", "t3")
    late_v3 = decide_acquire(v4.state, "e5", 3, "t5", NOW, LEASE)
    assert (late_v3.outcome, late_v3.superseded[0], late_v3.state) == ("superseded", "t5", v4.state)


def test_release_hands_the_lock_to_the_waiter() -> None:
    waiting = LockState(
        revision=2,
        holder="e2",
        holder_version=2,
        lease_until=NOW + 10,
        waiter="e4",
        waiter_version=4,
        waiter_token="t4",
    )
    handed = decide_release(waiting, "e2", NOW, LEASE)
    assert (handed.outcome, handed.granted, handed.state.holder, handed.state.waiter) == ("handed-over", "t4", "e4", "")
    assert decide_release(waiting, "someone-else", NOW, LEASE).outcome == "not-held"
    assert decide_release(handed.state, "e4", NOW, LEASE).state.holder == ""


def test_a_release_retried_after_the_hand_over_tells_the_waiter_again() -> None:
    """The waiter's token may not have been completed: the item keeps it for the releasing execution."""
    waiting = decide_acquire(LockState(1, "e2", 2, NOW + 10), "e4", 4, "t4", NOW, LEASE).state
    handed = decide_release(waiting, "e2", NOW, LEASE)
    again = decide_release(handed.state, "e2", NOW + 5, LEASE)
    assert (again.outcome, again.granted, again.state) == ("handed-over", "t4", handed.state)
    assert decide_release(handed.state, "someone-else", NOW, LEASE).granted == ""
    released = decide_release(handed.state, "e4", NOW, LEASE).state
    assert decide_release(released, "e2", NOW, LEASE).outcome == "not-held"


def test_a_lock_taken_after_its_lease_expired_is_not_handed_again() -> None:
    waiting = decide_acquire(LockState(1, "e2", 2, NOW + 10), "e4", 4, "t4", NOW, LEASE).state
    handed = decide_release(waiting, "e2", NOW, LEASE).state
    taken = decide_acquire(handed, "e6", 6, "t6", NOW + LEASE + 1, LEASE).state
    assert (decide_release(taken, "e2", NOW + LEASE + 2, LEASE).outcome, taken.holder) == ("not-held", "e6")


def test_an_acquire_retried_after_displacing_a_waiter_supersedes_it_again() -> None:
    """The displaced waiter's failure may not have been sent: the item keeps its token for the displacing one."""
    held = LockState(revision=1, holder="e2", holder_version=2, lease_until=NOW + 10)
    v3 = decide_acquire(held, "e3", 3, "t3", NOW, LEASE)
    v4 = decide_acquire(v3.state, "e4", 4, "t4", NOW, LEASE)
    cause = "version 4 is newer and waits for the endpoint"
    retried = decide_acquire(v4.state, "e4", 4, "t4-retry", NOW + 5, LEASE)
    assert (retried.outcome, retried.superseded, retried.state.waiter_token) == ("waiting", ("t3", cause), "t4-retry")
    handed = decide_release(v4.state, "e2", NOW, LEASE)  # the lock went to e4 before its retry
    late = decide_acquire(handed.state, "e4", 4, "t4-late", NOW + 5, LEASE)
    assert (late.outcome, late.granted, late.superseded) == ("acquired", "t4-late", ("t3", cause))
    assert decide_acquire(v4.state, "e5", 3, "t5", NOW, LEASE).superseded[0] == "t5"  # only e4 re-sends t3
