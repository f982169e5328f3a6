"""`make sandbox`: the sandbox's AWS APIs on 127.0.0.1, for real clients (AWS CLI, boto3, SDKs).

The stack and its seeded world live in this process; requests arriving over HTTP reach the
same emulated services, so approving a version with the AWS CLI runs the approval function and
the deploy workflow here. Port: SANDBOX_PORT (default 4599; 0 picks a free one).

Time runs 1000x faster than on AWS, except each canary bake, which lasts SANDBOX_BAKE_SECONDS real
seconds (default 5) so that a person can watch the weights move and set a guard alarm meanwhile.
Requests reach the endpoint (SANDBOX_TRAFFIC_PER_MINUTE, default 600) and feed the guard alarms; the
versions listed in SANDBOX_FAULTY_VERSIONS (e.g. "3") answer half of them with 5XX errors.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

from moto.server import ThreadedMotoServer

from .core import REGION, Sandbox
from .world import register_version, seed_world

DEFAULT_PORT = 4599


def main() -> int:
    port = int(os.environ.get("SANDBOX_PORT", str(DEFAULT_PORT)))
    project = os.environ.get("SANDBOX_PROJECT", "churn")
    sandbox = Sandbox().start()
    bake_seconds = float(os.environ.get("SANDBOX_BAKE_SECONDS", "5"))
    stack = sandbox.deploy_stack(project, BakeSeconds=str(max(60, round(bake_seconds / sandbox.time_scale))))
    world = seed_world(sandbox, stack)
    another = register_version(sandbox, stack, 3, "PendingManualApproval")
    sandbox.settle()
    faulty = [v.strip() for v in os.environ.get("SANDBOX_FAULTY_VERSIONS", "").split(",") if v.strip()]
    for version in faulty:
        sandbox.behave(f"{world.live_version_arn.rsplit('/', 1)[0]}/{version}", error_rate=0.5)
    sandbox.start_traffic(stack.endpoint_name, per_minute=int(os.environ.get("SANDBOX_TRAFFIC_PER_MINUTE", "600")))
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    url = f"http://{host}:{bound}"
    aws = f"aws --endpoint-url {url} --region {REGION}"
    print(
        f"""Sandbox listening on {url}  (project {project}, stack {stack.name})

Credentials are not checked; any will do, e.g.
  export AWS_ACCESS_KEY_ID=sandbox AWS_SECRET_ACCESS_KEY=sandbox AWS_DEFAULT_REGION={REGION}

Live on {stack.endpoint_name}: {world.live_version_arn}
Pending approval:      {world.pending_version_arn}
                       {another}
Each canary step bakes {bake_seconds:g} s (SANDBOX_BAKE_SECONDS); everything else runs 1000x faster than on AWS.
Requests flow to the endpoint and feed the guard alarms.
Faulty versions (SANDBOX_FAULTY_VERSIONS): {", ".join(faulty) or "none"}

Approve the pending version (the approval event starts the deploy workflow):
  {aws} sagemaker update-model-package --model-package-arn {world.pending_version_arn} --model-approval-status Approved
Watch the candidate's share of traffic grow (10% -> 50% -> 100%):
  {aws} sagemaker describe-endpoint --endpoint-name {stack.endpoint_name} \\
      --query "ProductionVariants[].[VariantName,CurrentWeight]"
  {aws} stepfunctions list-executions --state-machine-arn {stack.deploy_state_machine_arn}
During a bake, make the candidate's guard alarm fire (the candidate is Green, then Blue, alternating):
  {aws} cloudwatch set-alarm-state --alarm-name {project}-canary-5xx-Green \\
      --state-value ALARM --state-reason "5XX errors"
  {aws} dynamodb scan --table-name {stack.ledger_table}
Start a workflow by hand:
  {aws} stepfunctions start-execution --state-machine-arn {stack.outputs["RollbackStateMachineArn"]} --input file://events/statemachines/rollback.json
Reject the live version (rolls back to the previous one):
  {aws} sagemaker update-model-package --model-package-arn <live version ARN> --model-approval-status Rejected
Deliver an event to the rules (sandbox only: AWS refuses aws.* sources in PutEvents):
  {aws} events put-events --entries file://<entries.json>

Ctrl-C stops the sandbox; nothing is kept.""",
        flush=True,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    server.stop()
    sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
