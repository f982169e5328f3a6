"""`make sandbox`: the sandbox's AWS APIs on 127.0.0.1, for real clients (AWS CLI, boto3, SDKs).

The stack and its seeded world live in this process; requests arriving over HTTP reach the
same emulated services, so approving a version with the AWS CLI runs the approval function and
the deploy workflow here. Port: SANDBOX_PORT (default 4599; 0 picks a free one).

Time runs 1000x faster than on AWS, except each canary bake and the shadow, which last
SANDBOX_BAKE_SECONDS real seconds (default 5) so that a person can watch the weights move and set a
guard alarm meanwhile. An approved version is deployed with SANDBOX_DEPLOYMENT_STRATEGY (the stack's
DeploymentStrategy: "Canary", the default, or "Shadow": it first answers copies of the live requests,
compared with the live version's answers). Requests reach the endpoint (SANDBOX_TRAFFIC_PER_MINUTE,
default 600): each variant's metrics for that many a minute feed the guard alarms, and one real request
per 300 of them (33 a second at the default) is answered, copied to a shadow and captured. The versions
listed in SANDBOX_FAULTY_VERSIONS (e.g. "3") answer half of their requests with 5XX errors; those in
SANDBOX_DISAGREEING_VERSIONS answer 1 - p for every probability p (they disagree with the others).

SANDBOX_SERVING_KIND is the stack's ServingKind: RealTime (the default), Serverless (the endpoint serves from a
serverless config: an approval replaces it at once and bakes it; nothing is captured) or Batch (no endpoint: a CSV
put under s3://<artifact bucket>/batch/input/ is scored by a transform job, then measured for drift).

The training pipeline runs for real; its processing and training steps last at least
SANDBOX_PIPELINE_STEP_SECONDS (default 2), so a retrain takes a few seconds. Drift alarms respect a
cooldown of SANDBOX_RETRAIN_COOLDOWN_SECONDS (default 60) after each retrain and a daily cap of
SANDBOX_MAX_RETRAINS_PER_DAY (default 3). A pipeline step fails on
request: put [{"step": "Train", "reason": "...", "times": 1}] at s3://sandbox-control/pipeline-failures.json.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

from moto.server import ThreadedMotoServer

from pipeline import dataset

from .core import CAPACITY_ERROR, REGION, Sandbox
from .pipeline_runner import CONTROL_BUCKET, CONTROL_KEY
from .world import register_version, seed_world

DEFAULT_PORT = 4599


def main() -> int:
    port = int(os.environ.get("SANDBOX_PORT", str(DEFAULT_PORT)))
    project = os.environ.get("SANDBOX_PROJECT", "churn")
    sandbox = Sandbox().start()
    bake_seconds = float(os.environ.get("SANDBOX_BAKE_SECONDS", "5"))
    cooldown = os.environ.get("SANDBOX_RETRAIN_COOLDOWN_SECONDS", "60")
    strategy = os.environ.get("SANDBOX_DEPLOYMENT_STRATEGY", "Canary")
    kind = os.environ.get("SANDBOX_SERVING_KIND", "RealTime")
    if kind not in ("RealTime", "Serverless", "Batch"):
        print(f"SANDBOX_SERVING_KIND {kind!r} must be RealTime, Serverless or Batch", file=sys.stderr)
        return 2
    bake = str(max(60, round(bake_seconds / sandbox.time_scale)))  # AWS seconds: the sandbox's clock runs 1000x
    stack = sandbox.deploy_stack(
        project,
        BakeSeconds=bake,
        ShadowSeconds=bake,
        DeploymentStrategy=strategy,
        ServingKind=kind,
        RetrainCooldownSeconds=cooldown,
        MaxRetrainsPerDay=os.environ.get("SANDBOX_MAX_RETRAINS_PER_DAY", "3"),
    )
    sandbox.slow_pipeline_steps(float(os.environ.get("SANDBOX_PIPELINE_STEP_SECONDS", "2")))
    sandbox.client("s3").create_bucket(Bucket=CONTROL_BUCKET)
    drift_alarm = f"{project}-drift-feature-psi"
    sandbox.client("cloudwatch").put_metric_alarm(
        AlarmName=drift_alarm,
        AlarmDescription="Drift of the live traffic from the training baseline (set by hand in the sandbox)",
        Namespace="MLOpsAutomation/Drift",
        MetricName="PopulationStabilityIndex",
        Dimensions=[{"Name": "EndpointName", "Value": stack.endpoint_name}],
        Statistic="Maximum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=0.2,
        ComparisonOperator="GreaterThanThreshold",
    )
    world = seed_world(sandbox, stack)
    another = register_version(sandbox, stack, 3, "PendingManualApproval")
    sandbox.settle()
    faulty = [v.strip() for v in os.environ.get("SANDBOX_FAULTY_VERSIONS", "").split(",") if v.strip()]
    for version in faulty:
        sandbox.behave(f"{world.live_version_arn.rsplit('/', 1)[0]}/{version}", error_rate=0.5)
    disagreeing = [v.strip() for v in os.environ.get("SANDBOX_DISAGREEING_VERSIONS", "").split(",") if v.strip()]
    for version in disagreeing:
        sandbox.behave(f"{world.live_version_arn.rsplit('/', 1)[0]}/{version}", invert=True)
    if kind == "Batch":  # no endpoint, no traffic: CloudWatch still evaluates the alarms, every second here
        threading.Thread(target=_evaluate_alarms_every_second, args=(sandbox,), daemon=True).start()
    else:
        sandbox.start_traffic(stack.endpoint_name, per_minute=int(os.environ.get("SANDBOX_TRAFFIC_PER_MINUTE", "600")))
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    url = f"http://{host}:{bound}"
    aws = f"aws --endpoint-url {url} --region {REGION}"
    bucket = stack.outputs["ArtifactBucketName"]
    label = json.dumps(  # one of Model Monitor's ground-truth records
        {
            "groundTruthData": {"data": "0", "encoding": "CSV"},
            "eventMetadata": {"eventId": "customer-1"},
            "eventVersion": "0",
        }
    )
    print(
        f"""Sandbox listening on {url}  (project {project}, stack {stack.name})

Credentials are not checked; any will do, e.g.
  export AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox AWS_DEFAULT_REGION={REGION}

Live on {stack.endpoint_name}: {world.live_version_arn}
Pending approval:      {world.pending_version_arn}
                       {another}
Deployment strategy (SANDBOX_DEPLOYMENT_STRATEGY): {strategy}
Each canary step bakes, and a shadow lasts, {bake_seconds:g} s (SANDBOX_BAKE_SECONDS); everything else runs 1000x
faster than on AWS.
Requests flow to the endpoint and feed the guard alarms; real ones are answered and captured (a shadow gets copies).
Faulty versions (SANDBOX_FAULTY_VERSIONS): {", ".join(faulty) or "none"}
Disagreeing versions (SANDBOX_DISAGREEING_VERSIONS): {", ".join(disagreeing) or "none"}

The operator's command line (docs/cli.md), with the credentials above:
  .venv/bin/mlops --endpoint-url {url} --region {REGION} status
  .venv/bin/mlops --endpoint-url {url} --region {REGION} approve 2 --reason "try it"   # then: ... watch
  .venv/bin/mlops --endpoint-url {url} --region {REGION} lineage        # history, rollback, retrain, abort, report

Approve the pending version (the approval event starts the deploy workflow):
  {aws} sagemaker update-model-package --model-package-arn {world.pending_version_arn} --model-approval-status Approved
Watch the candidate's share of traffic grow (10% -> 50% -> 100%), after its shadow with the Shadow strategy:
  {aws} sagemaker describe-endpoint --endpoint-name {stack.endpoint_name} \\
      --query "[ProductionVariants[].[VariantName,CurrentWeight], ShadowProductionVariants[].VariantName]"
  {aws} stepfunctions list-executions --state-machine-arn {stack.deploy_state_machine_arn}
During a bake, make the candidate's guard alarm fire (the candidate is Green, then Blue, alternating):
  {aws} cloudwatch set-alarm-state --alarm-name {project}-canary-5xx-Green \\
      --state-value ALARM --state-reason "5XX errors"
  {aws} dynamodb scan --table-name {stack.ledger_table}
Start a workflow by hand:
  {aws} stepfunctions start-execution --state-machine-arn {stack.outputs["RollbackStateMachineArn"]} --input file://events/statemachines/rollback.json
Reject the live version (rolls back to the previous one):
  {aws} sagemaker update-model-package --model-package-arn <live version ARN> --model-approval-status Rejected
Drift: the alarm going to ALARM starts the retrain workflow (pipeline run, new version pending approval):
  {aws} cloudwatch set-alarm-state --alarm-name {drift_alarm} --state-value ALARM --state-reason "PSI 0.31"
  {aws} stepfunctions list-executions --state-machine-arn {stack.outputs["RetrainStateMachineArn"]}
  {aws} sagemaker list-pipeline-executions --pipeline-name {stack.parameters["PipelineName"]}
Retrain by hand (cooldown {cooldown} s applies to alarms only):
  {aws} stepfunctions start-execution --state-machine-arn {stack.outputs["RetrainStateMachineArn"]} --input file://events/statemachines/retrain.json
Ground truth, in Model Monitor's format: send requests with an InferenceId, label them, run the monitor
(its schedule does not fire in the sandbox), then read the quality, bias and attribution figures and alarms:
  {aws} sagemaker-runtime invoke-endpoint --endpoint-name {stack.endpoint_name} --content-type text/csv \
      --inference-id customer-1 --body "2,110.0,6,3.0,month-to-month,electronic-check,under-65" answer.csv
  echo '{label}' > labels.jsonl
  {aws} s3 cp labels.jsonl s3://{bucket}/groundtruth/$(date -u +%Y/%m/%d/%H)/labels.jsonl
  {aws} lambda invoke --function-name {project}-drift-monitor monitor-run.json
  {aws} cloudwatch describe-alarms --alarm-name-prefix {project}-drift-quality-
  {aws} cloudwatch list-metrics --namespace MLOps/{project}/Drift
Read the notifications: subscribe a queue to {stack.outputs["NotificationTopicArn"]}
  {aws} sqs create-queue --queue-name inbox
  {aws} sns subscribe --topic-arn {stack.outputs["NotificationTopicArn"]} --protocol sqs \\
      --notification-endpoint arn:aws:sqs:{REGION}:123456789012:inbox
  {aws} sqs receive-message --queue-url {url}/123456789012/inbox --max-number-of-messages 10
Make the next pipeline run's Train step fail once, transiently (sandbox only):
  echo '[{{"step": "Train", "reason": "{CAPACITY_ERROR}", "times": 1}}]' > failures.json
  {aws} s3api put-object --bucket {CONTROL_BUCKET} --key {CONTROL_KEY} --body failures.json
Deliver an event to the rules (sandbox only: AWS refuses aws.* sources in PutEvents):
  {aws} events put-events --entries file://<entries.json>

Ctrl-C stops the sandbox; nothing is kept.""",
        flush=True,
    )
    if kind == "Serverless":
        print(
            f"""
ServingKind Serverless: {stack.endpoint_name} serves from a serverless config. An approval replaces the config at once
(no traffic steps: one variant) and bakes it; its guards include the cold starts (ModelSetupTime):
  {aws} cloudwatch set-alarm-state --alarm-name {project}-canary-model-setup-time-Green \\
      --state-value ALARM --state-reason "cold starts"
Nothing is captured (serverless endpoints support no data capture): the drift monitor reports "not available".""",
            flush=True,
        )
    if kind == "Batch":
        examples = _batch_examples()
        print(
            f"""
ServingKind Batch: no endpoint. The live version ({world.live_version_arn}) scores every CSV put under
s3://{bucket}/batch/input/ with a transform job; outputs (each line: its input, then the prediction) land under
s3://{bucket}/batch/output/<job>/<file>.out, then the batch's drift is measured and published.
Score a file of customers like the training data, then one from a shifted population (drift alarm, retrain):
  {aws} s3 cp {examples / "customers.csv"} s3://{bucket}/batch/input/customers.csv
  {aws} s3 cp {examples / "shifted.csv"} s3://{bucket}/batch/input/shifted.csv
  {aws} s3 ls --recursive s3://{bucket}/batch/output/
  {aws} stepfunctions list-executions --state-machine-arn {stack.outputs["BatchStateMachineArn"]}
  {aws} cloudwatch describe-alarms --alarm-names {project}-drift-score
  {aws} stepfunctions list-executions --state-machine-arn {stack.outputs["RetrainStateMachineArn"]}
A file whose lines end with the label (as pipeline/data/churn.csv) is also scored for model quality.
Score a file by hand:
  {aws} stepfunctions start-execution --state-machine-arn {stack.outputs["BatchStateMachineArn"]} \\
      --input '{{"InputUrl": "s3://{bucket}/batch/input/customers.csv"}}'""",
            flush=True,
        )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    server.stop()
    sandbox.stop()
    return 0


def _evaluate_alarms_every_second(sandbox: Sandbox) -> None:
    while True:
        threading.Event().wait(1.0)
        with contextlib.suppress(Exception):  # the sandbox may be stopping
            sandbox.evaluate_alarms()


def _batch_examples() -> Path:
    """Two CSV files of customers (no header, the request's columns): like the training data, and shifted."""
    directory = Path(tempfile.mkdtemp(prefix="sandbox-batch-"))
    for name, shift in (("customers.csv", 0.0), ("shifted.csv", 1.0)):
        rows = dataset.generate(rows=1000, seed=23, shift=shift)
        (directory / name).write_text(dataset.to_csv(rows, header=False, label=False))
    return directory


if __name__ == "__main__":
    sys.exit(main())
