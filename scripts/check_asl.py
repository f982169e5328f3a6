"""ASL checks beyond the schema: the project's rules for every workflow, against template.yaml.

- the file is valid ASL (the asl-validator npm package: missing `Next` targets, unknown state types);
- every Task has a Retry and a Catch, and no Retry names States.ALL (retry transient errors by name);
- every error a Retry or Catch names is one Step Functions can report for that Task (sandbox/sfn_errors.py
  derives them from AWS's documentation and botocore's service models; a Lambda step's own errors are the
  functions' exception classes and the errors they send with SendTaskFailure);
- every aws-sdk:sagemaker task retries SageMaker.SageMakerException, a bounded number of times (the name
  covers throttling and internal errors, and validation errors too), every PutEvents task EventBridge.FailedEntry;
- every `${Placeholder}` is a DefinitionSubstitutions key of the template and every key is used;
- numeric fields hold numbers, never a "${...}" string (substitutions insert strings).

Usage: python scripts/check_asl.py [statemachines/*.asl.json ...]   (exit 1 on any problem)
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox import sfn_errors  # noqa: E402
from sandbox.template import load_sam_template, sam_resources  # noqa: E402

FUNCTIONS = ROOT / "functions"
MAX_SAGEMAKER_RETRIES = 5  # SageMaker.SageMakerException also names a validation error: fail soon enough to read

VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"
NUMERIC_FIELDS = {
    "Seconds",
    "TimeoutSeconds",
    "HeartbeatSeconds",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "MaxConcurrency",
    "ToleratedFailureCount",
    "ToleratedFailurePercentage",
    "InitialInstanceCount",
    "InitialVariantWeight",
    "DesiredWeight",
    "DesiredInstanceCount",
}
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def states_of(definition: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in definition.get("States", {}).items():
        yield prefix + name, state
        for branch in state.get("Branches", []):
            yield from states_of(branch, f"{prefix}{name}/")
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from states_of(processor, f"{prefix}{name}/")


def numeric_problems(node: Any, path: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in NUMERIC_FIELDS and not isinstance(value, int | float):
                yield f"{path}/{key} must be a number, not {json.dumps(value)} (use a path or an expression)"
            yield from numeric_problems(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from numeric_problems(value, f"{path}[{index}]")


def _exception_classes(trees: list[ast.Module]) -> set[str]:
    """Classes that derive, directly or through each other, from a built-in exception."""
    bases = {
        node.name: {base.id if isinstance(base, ast.Name) else getattr(base, "attr", "") for base in node.bases}
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
    }
    found = {name for name, parents in bases.items() if any(p.endswith(("Error", "Exception")) for p in parents)}
    while grown := {name for name, parents in bases.items() if parents & found} - found:
        found |= grown
    return found


def function_error_names(root: Path = FUNCTIONS) -> set[str]:
    """What a workflow's Lambda step can fail with beyond Lambda's own errors: the functions' exception classes
    (Step Functions names a function's error by its class) and the errors they send with SendTaskFailure
    (`complete(..., error="...")`, and a Settlement's error)."""
    trees = [ast.parse(path.read_text()) for path in sorted(root.rglob("*.py"))]
    names = _exception_classes(trees)
    for tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            given = [k.value for k in node.keywords if k.arg == "error"]
            if getattr(node.func, "id", "") == "Settlement" and len(node.args) == 3:
                given.append(node.args[2])
            names |= {
                value.value for value in given if isinstance(value, ast.Constant) and isinstance(value.value, str)
            }
    return names


def error_name_problems(name: str, state: dict[str, Any], function_errors: set[str]) -> list[str]:
    integration = sfn_errors.integration_of(str(state.get("Resource", "")))
    if integration is None:
        return [f"Task {name}: no known error names for {state.get('Resource')}"]
    possible = sfn_errors.STATES_ERRORS | sfn_errors.possible_names(integration)
    if integration.prefix == "Lambda":
        possible |= function_errors
    named = [e for rule in state.get("Retry", []) + state.get("Catch", []) for e in rule.get("ErrorEquals", [])]
    problems = [
        f"Task {name} names {error}, which Step Functions never reports for it"
        for error in named
        if error not in possible
    ]
    retried = {e: rule for rule in state.get("Retry", []) for e in rule.get("ErrorEquals", [])}
    must = {"SageMaker": integration.base, "EventBridge": sfn_errors.FAILED_ENTRY}.get(integration.prefix)
    if must and must not in retried:
        problems.append(f"Task {name} does not retry {must}")
    if integration.prefix == "SageMaker" and must in retried:
        attempts = retried[must].get("MaxAttempts", 3)
        if not 0 < attempts <= MAX_SAGEMAKER_RETRIES:
            problems.append(f"Task {name} retries {must} {attempts} times: at most {MAX_SAGEMAKER_RETRIES}")
    return problems


def rule_problems(
    definition: dict[str, Any], substitutions: set[str], function_errors: set[str] | None = None
) -> list[str]:
    problems = []
    function_errors = function_error_names() if function_errors is None else function_errors
    for name, state in states_of(definition):
        if state.get("Type") != "Task":
            continue
        if not state.get("Retry"):
            problems.append(f"Task {name} has no Retry for its transient errors")
        if not state.get("Catch"):
            problems.append(f"Task {name} has no Catch leading to a clean end")
        for retrier in state.get("Retry", []):
            if "States.ALL" in retrier.get("ErrorEquals", []):
                problems.append(f"Task {name} retries States.ALL: retry named transient errors only")
        problems += error_name_problems(name, state, function_errors)
    used = set(PLACEHOLDER.findall(json.dumps(definition)))
    problems += [f"${{{key}}} is not in the template's DefinitionSubstitutions" for key in sorted(used - substitutions)]
    problems += [f"DefinitionSubstitutions key {key} is never used" for key in sorted(substitutions - used)]
    problems += list(numeric_problems(definition))
    return problems


def template_substitutions() -> dict[str, set[str]]:
    """DefinitionUri -> the DefinitionSubstitutions keys the template gives it."""
    template = load_sam_template()
    return {
        str((ROOT / res["Properties"]["DefinitionUri"]).resolve()): set(
            res["Properties"].get("DefinitionSubstitutions", {})
        )
        for res in sam_resources(template, "AWS::Serverless::StateMachine").values()
    }


def check(paths: list[Path], by_file: dict[str, set[str]] | None = None) -> list[str]:
    """Problems found in the given ASL files; `by_file` defaults to the template's substitutions."""
    problems: list[str] = []
    by_file = template_substitutions() if by_file is None else by_file
    function_errors = function_error_names()
    schema = subprocess.run(
        [str(VALIDATOR), *[arg for path in paths for arg in ("--json-path", str(path))]],
        capture_output=True,
        text=True,
        check=False,
    )
    if schema.returncode != 0:
        problems.append((schema.stdout + schema.stderr).strip())
    for path in paths:
        try:
            definition = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            problems.append(f"{path}: not JSON: {error}")
            continue
        substitutions = by_file.get(str(path.resolve()))
        if substitutions is None:
            problems.append(f"{path}: no AWS::Serverless::StateMachine in template.yaml uses it")
            continue
        problems += [f"{path}: {problem}" for problem in rule_problems(definition, substitutions, function_errors)]
    return problems


def main(argv: list[str]) -> int:
    paths = [Path(arg) for arg in argv] or sorted((ROOT / "statemachines").glob("*.asl.json"))
    problems = check(paths)
    for problem in problems:
        print(problem)
    if not problems:
        print(f"ASL checks passed: {', '.join(path.name for path in paths)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
