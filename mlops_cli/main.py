"""mlops: operate this automation from a terminal, against AWS or `make sandbox`.

    mlops status                      what is live, what is deploying, the retrain gate, monitoring
    mlops watch                       status, refreshed until the deployment in progress ends
    mlops history [--kind K] [-n N]   the ledger's decisions, newest first
    mlops lineage [VERSION]           what made the live version (or VERSION): data, code, run, approvals
    mlops approve VERSION --reason R  approve a version (the deploy workflow starts)
    mlops reject VERSION --reason R   reject a version (a live one is rolled back)
    mlops rollback [--to VERSION]     restore the previous (or a named approved) version
    mlops retrain --reason R          run the training pipeline now
    mlops abort --reason R            stop the canary or shadow in progress (traffic back to the live version)
    mlops report [--out FILE]         one self-contained HTML page: a deployment's timeline, the monitoring

Global options follow the AWS CLI: --profile, --region, --endpoint-url (also AWS_PROFILE, AWS_REGION,
AWS_ENDPOINT_URL). The project is found from its stack's outputs: the only stack of this automation in the
region, or the one named with --project (its ProjectName) or --stack.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws import Clients, UsageError
from .project import Project, find_project


@dataclass
class Result:
    """What a command found or did: `data` for --json, `text` for people."""

    data: Any
    text: str
    exit_code: int = 0


Command = Callable[[argparse.Namespace, Clients, Project], Result]


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> argparse.ArgumentParser:
    """The options every command takes, before or after its name (the AWS CLI's own, then this project's)."""
    default: Any = argparse.SUPPRESS if suppress else None  # after the command: do not undo one given before it
    parser.add_argument("--profile", default=default, help="a named profile of the AWS CLI's configuration")
    parser.add_argument("--region", default=default, help="the AWS region (default: the profile's or AWS_REGION)")
    parser.add_argument("--endpoint-url", default=default, help="send every request to this URL (e.g. the sandbox's)")
    parser.add_argument("--project", default=default, help="the project (its stack's ProjectName output)")
    parser.add_argument("--stack", default=default, help="the project's CloudFormation stack name")
    parser.add_argument(
        "--json", action="store_true", default=default if suppress else False, help="print JSON instead of text"
    )
    return parser


def _parser() -> argparse.ArgumentParser:
    common = _global_options(argparse.ArgumentParser(add_help=False), suppress=True)
    parser = _global_options(
        argparse.ArgumentParser(
            prog="mlops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        ),
        suppress=False,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, description=help, parents=[common])

    command("status", "what is live, a deployment in progress, the retrain gate, the latest monitoring")
    watch = command("watch", "status, refreshed until the deployment in progress ends")
    watch.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes (default 2)")
    watch.add_argument("--timeout", type=float, default=3600.0, help="give up after this many seconds (default 3600)")
    watch.add_argument(
        "--start-wait",
        type=float,
        default=60.0,
        help="with nothing in progress, wait this long for a deployment to start (default 60)",
    )
    history = command("history", "the ledger's decisions, newest first")
    history.add_argument("-n", "--limit", type=int, default=20, help="at most this many entries (default 20)")
    history.add_argument("--kind", help="only entries of this kind (e.g. promoted, rolled-back, retrain-admitted)")
    history.add_argument("--version", help="only entries about this version (number or ARN)")
    history.add_argument("--since", help="only entries recorded at or after this ISO 8601 time")
    lineage = command("lineage", "what made the live version (or a named one)")
    lineage.add_argument("version", nargs="?", help="a version number or ARN (default: the live one)")
    for name, verb in (("approve", "approve"), ("reject", "reject")):
        action = command(name, f"{verb} a version of the model package group")
        action.add_argument("version", help="the version number or ARN")
        action.add_argument("--reason", required=True, help="why (kept with the version and in the ledger)")
        action.add_argument("--wait", action="store_true", help="wait for the workflow it starts to end")
    rollback = command("rollback", "restore the previous version (or a named approved one)")
    rollback.add_argument("--to", dest="to_version", help="an approved version number or ARN")
    rollback.add_argument("--reason", required=True, help="why")
    rollback.add_argument("--wait", action="store_true", help="wait for the rollback to end")
    retrain = command("retrain", "run the training pipeline now (through the retrain workflow)")
    retrain.add_argument("--reason", required=True, help="why")
    retrain.add_argument("--wait", action="store_true", help="wait for the retrain to end")
    abort = command("abort", "stop the canary or shadow in progress: traffic back to the live version")
    abort.add_argument("--reason", required=True, help="why")
    abort.add_argument("--wait", action="store_true", help="wait for the deployment to end")
    report = command("report", "write one self-contained HTML page: a deployment's timeline and the monitoring")
    report.add_argument("--out", default="mlops-report.html", help="the file to write (default mlops-report.html)")
    report.add_argument("--execution", help="the deploy workflow execution (name or ARN; default: the newest)")
    return parser


COMMANDS = {
    "status": "status:status",
    "history": "history:history",
    "lineage": "lineage:lineage",
    "approve": "actions:approve",
    "reject": "actions:reject",
    "rollback": "actions:rollback",
    "retrain": "actions:retrain",
    "abort": "actions:abort",
    "report": "report:report",
}


def _command(name: str) -> Command:
    module, function = COMMANDS[name].split(":")
    found: Command = getattr(importlib.import_module(f"mlops_cli.{module}"), function)
    return found


def main(
    argv: Sequence[str] | None = None,
    clients: Clients | None = None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    """The command line; `clients` replaces the AWS clients made from the options, `out` and `err` the standard
    streams (tests)."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = _parser().parse_args(argv)
    try:
        clients = clients or Clients(profile=args.profile, region=args.region, endpoint_url=args.endpoint_url)
        project = find_project(clients, project=args.project, stack=args.stack)
        if args.command == "watch":
            from . import status

            return status.watch(args, clients, project, out)
        result = _command(args.command)(args, clients, project)
    except UsageError as error:
        print(f"mlops: {error}", file=err)
        return 2
    except (ClientError, BotoCoreError) as error:
        print(f"mlops: AWS refused: {error}", file=err)
        return 1
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(result.data, indent=2, default=str, sort_keys=True), file=out)
    else:
        print(result.text, file=out)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
