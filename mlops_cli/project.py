"""The project a command acts on, found from its CloudFormation stack's outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .aws import Clients, UsageError

# Outputs that mark a stack of this automation (template.yaml, Outputs).
MARKERS = ("ProjectName", "LedgerTableName", "DeployStateMachineArn")


@dataclass(frozen=True)
class Project:
    stack_name: str
    outputs: dict[str, str]

    @property
    def name(self) -> str:
        return self.outputs["ProjectName"]

    @property
    def endpoint(self) -> str:
        return self.outputs["EndpointName"]

    @property
    def group(self) -> str:
        return self.outputs["ModelPackageGroupName"]

    @property
    def kind(self) -> str:
        return self.outputs.get("ServingKind", "RealTime")

    @property
    def ledger(self) -> str:
        return self.outputs["LedgerTableName"]

    @property
    def bucket(self) -> str:
        return self.outputs["ArtifactBucketName"]

    def workflow(self, name: str) -> str:
        """The ARN of the deploy, rollback, retrain or batch workflow."""
        key = f"{name.capitalize()}StateMachineArn"
        if key not in self.outputs:
            raise UsageError(f"project {self.name} has no {name} workflow (stack {self.stack_name})")
        return self.outputs[key]


def _outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}


def automation_stacks(clients: Clients) -> list[Project]:
    """Every live stack in the account and region that carries this automation's outputs."""
    found = []
    paginator = clients("cloudformation").get_paginator("describe_stacks")
    for page in paginator.paginate():
        for stack in page["Stacks"]:
            if stack.get("StackStatus", "").startswith("DELETE"):
                continue
            outputs = _outputs(stack)
            if all(key in outputs for key in MARKERS):
                found.append(Project(stack_name=stack["StackName"], outputs=outputs))
    return found


def find_project(clients: Clients, project: str | None = None, stack: str | None = None) -> Project:
    """The project named (by its ProjectName output), the stack named, or the only one there is."""
    if stack:
        try:
            described = clients("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
        except clients("cloudformation").exceptions.ClientError as error:
            raise UsageError(f"no stack {stack}: {error.response['Error'].get('Message', error)}") from error
        outputs = _outputs(described)
        if not all(key in outputs for key in MARKERS):
            raise UsageError(f"stack {stack} is not one of this automation (no {', '.join(MARKERS)} outputs)")
        return Project(stack_name=stack, outputs=outputs)
    stacks = automation_stacks(clients)
    if project:
        matches = [p for p in stacks if p.name == project]
        if not matches:
            known = ", ".join(sorted(p.name for p in stacks)) or "none"
            raise UsageError(f"no project {project} in {clients.region_name} (projects found: {known})")
        return matches[0]
    if not stacks:
        raise UsageError(f"no stack of this automation in {clients.region_name}: deploy one, or use --region/--profile")
    if len(stacks) > 1:
        names = ", ".join(sorted(p.name for p in stacks))
        raise UsageError(f"{len(stacks)} projects in {clients.region_name} ({names}): name one with --project")
    return stacks[0]
