"""The one path every event takes: parse, set aside if malformed, react, count, log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from . import rejections
from .events import MalformedEvent, parse_event
from .reactions import Reaction
from .settings import Settings

E = TypeVar("E", bound=EventBridgeModel)


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
    try:
        parsed = parse_event(event, model)
    except MalformedEvent as error:
        reason = f"malformed {model.__name__}: {error}"
        logger.error(reason, extra={"reaction": "rejected"})
        rejections.set_aside(sqs, settings.rejected_events_queue_url, event, reason, function_name)
        metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=1)
        return Reaction("rejected", reason).as_dict()
    reaction = react(parsed, settings)
    logger.info(reaction.reason, extra={"reaction": reaction.action, "event_id": parsed.id})
    metrics.add_dimension(name="project", value=settings.project_name)
    metrics.add_metric(name=f"Events{reaction.action.capitalize()}", unit=MetricUnit.Count, value=1)
    return reaction.as_dict()
