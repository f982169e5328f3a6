"""The one path every event takes: parse, set aside if bad, react, count, log.

Each function's app.py builds its handler with `lambda_handler(model, react, sqs=...)`.

What a function does with an event that is not for it to act on, in one log line each:
- rejected (logged as an error, kept with the reason in the rejected-events queue): the event is
  malformed (not the shape AWS documents, beyond AWS's limits, contradicting itself) or names a
  resource of this project that does not exist (`UnknownResource`, raised by the reaction before it
  changes anything);
- ignored (logged as info, nothing kept): a well-formed event that is not this project's: another
  account or region (events forwarded from another bus), another model package group, endpoint,
  pipeline or alarm prefix, a status this project does not act on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from . import rejections
from .events import REGION, AwsEvent, MalformedEvent, UnknownResource, parse_event
from .reactions import Reaction
from .settings import Settings

E = TypeVar("E", bound=AwsEvent)


def home_of(queue_url: str) -> tuple[str, str] | None:
    """(account, region) this stack runs in: those of its own rejected-events queue, whose URL the template
    sets (the Lambda context's ARN would do on AWS, but SAM's local emulator gives it a placeholder account)."""
    match = re.match(rf"^https://(?:sqs\.)?(?P<region>{REGION})\.[^/]+/(?P<account>\d{{12}})/", queue_url)
    return (match["account"], match["region"]) if match else None


def foreign(event: AwsEvent, home: tuple[str, str] | None) -> Reaction | None:
    if home is None or (event.account, event.region) == home:
        return None
    return Reaction(
        "ignored", f"event from account {event.account} in {event.region}, not this project's {home[0]} in {home[1]}"
    )


def handle_event(
    event: object,
    model: type[E],
    react: Callable[[E, Settings], Reaction],
    *,
    sqs: Any,
    logger: Logger,
    metrics: Metrics,
    function_name: str,
) -> dict[str, str]:
    settings = Settings.from_env()
    logger.set_correlation_id(None)  # the event's id once it is known to be one (a warm logger keeps the last)

    def reject(reason: str) -> dict[str, str]:
        logger.error(reason, extra={"reaction": "rejected"})
        rejections.set_aside(sqs, settings.rejected_events_queue_url, event, reason, function_name)
        metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
        return Reaction("rejected", reason).as_dict()

    try:
        parsed = parse_event(event, model)
    except MalformedEvent as error:
        return reject(f"malformed {model.__name__}: {error}")
    logger.set_correlation_id(parsed.id)
    try:
        reaction = foreign(parsed, home_of(settings.rejected_events_queue_url)) or react(parsed, settings)
    except UnknownResource as error:
        return reject(f"unknown resource in {model.__name__}: {error}")
    logger.info(reaction.reason, extra={"reaction": reaction.action, "event_id": parsed.id})
    metrics.add_dimension(name="project", value=settings.project_name)
    metrics.add_metric(name=f"Events{reaction.action.capitalize()}", unit=MetricUnit.Count, value=1)
    return reaction.as_dict()


def lambda_handler(model: type[E], react: Callable[[E, Settings], Reaction], *, sqs: Any) -> Callable[[Any, Any], Any]:
    """A Lambda handler for one event type, with Powertools logs (correlated by event id), metrics and traces."""
    logger = Logger()
    tracer = Tracer()
    metrics = Metrics()

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
        return handle_event(
            event,
            model,
            react,
            sqs=sqs,
            logger=logger,
            metrics=metrics,
            function_name=getattr(context, "function_name", model.__name__),
        )

    return handler
