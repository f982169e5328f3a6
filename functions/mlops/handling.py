"""The one path every event takes: parse, set aside if malformed, react, count, log.

Each function's app.py builds its handler with `lambda_handler(model, react, sqs=...)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
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


def lambda_handler(model: type[E], react: Callable[[E, Settings], Reaction], *, sqs: Any) -> Callable[[Any, Any], Any]:
    """A Lambda handler for one event type, with Powertools logs (correlated by event id), metrics and traces."""
    logger = Logger()
    tracer = Tracer()
    metrics = Metrics()

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
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
