"""A failed pipeline run started outside the retrain workflow is reported once, even when the handler's
process dies between recording the report and publishing it."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from sandbox import faults
from sandbox.core import ALGORITHM_ERROR
from tests.conftest import SandboxWorld
from tests.test_retrain import inbox

FUNCTION = "churn-pipeline-status"
STATUS_CHANGE = "SageMaker Model Building Pipeline Execution Status Change"


@dataclass
class DeathAfterReportRecorded:
    """The first delivery dies right after the ledger write that follows ListPipelineExecutionSteps: the
    write recording the report, before it is published."""

    steps_listed_at: int = -1  # the index of the first delivery's ListPipelineExecutionSteps call

    def verdict(self, call: faults.Call) -> faults.Verdict | None:
        if call.origin != "function" or call.function != FUNCTION or call.delivery != 1:
            return None
        if call.operation == "ListPipelineExecutionSteps":
            self.steps_listed_at = call.index
        next_write = call.index == self.steps_listed_at + 1 and (call.service, call.operation) == (
            "dynamodb",
            "PutItem",
        )
        return "die" if next_write else None


def test_a_report_recorded_by_a_process_that_died_is_published_by_the_redelivery(churn: SandboxWorld) -> None:
    read = inbox(churn)
    churn.sandbox.fail_pipeline_step("Train", ALGORITHM_ERROR, times=1)
    before = len(churn.sandbox.state.invocations)

    with faults.inject(DeathAfterReportRecorded()) as injection:
        arn = churn.client("sagemaker").start_pipeline_execution(
            PipelineName=churn.stack.parameters["PipelineName"], ClientRequestToken=uuid.uuid4().hex
        )["PipelineExecutionArn"]
        churn.sandbox.settle(timeout=120)

    assert [verdict for _, verdict in injection.injected] == ["die"]
    ran = [i for i in churn.sandbox.state.invocations[before:] if i.function_name == FUNCTION]
    assert [i.attempt for i in ran if (i.error or "").startswith("Runtime.ExitError")] == [1]
    failed_event = next(
        e
        for e in churn.sandbox.state.emitted_events
        if e["detail-type"] == STATUS_CHANGE and e["detail"]["currentPipelineExecutionStatus"] == "Failed"
    )
    churn.client("events").put_events(  # the end event once more: the report is not published again
        Entries=[
            {
                "Source": "aws.sagemaker",
                "DetailType": STATUS_CHANGE,
                "Detail": json.dumps(failed_event["detail"]),
                "Resources": [failed_event["detail"]["pipelineArn"], arn],
            }
        ]
    )
    churn.sandbox.settle()

    messages = []
    while batch := read():
        messages += batch
    reports = [m for m in messages if "pipeline run Failed" in m.get("Subject", "")]
    assert len(reports) == 1, f"{len(reports)} reports published"
    assert f"Failed step Train: {ALGORITHM_ERROR}" in reports[0]["Message"]
