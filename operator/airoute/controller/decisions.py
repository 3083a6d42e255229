"""Every decision in the log, as well as in an Event: one line per Event, structured (logfmt).

::

    decision route=support/support-chat backend=azure-eu from_weight=50 to_weight=0 type=Warning
      reason=BackendEjected message="azure-eu ejected: error rate 0.42 > 0.05 over 120 requests"

``reason`` and ``message`` are the Event's own; ``from_weight``/``to_weight`` the backend's
effective weight before and after the decision (when the Event is about a backend). The fields
also go on the log record as ``record.decision`` for a structured handler. Messages come from the
core's decisions, which name backends, numbers and reasons — never credentials, URLs of Secrets
or request contents — so the log is as safe to share as the Events are.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from airoute.core.events import Event

log = logging.getLogger("airoute.controller.decisions")


def _value(text: str) -> str:
    if text and not any(c in text for c in ' "=\\') and text.isprintable():
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def logfmt(fields: Mapping[str, object]) -> str:
    """``key=value`` pairs, values quoted when they hold spaces, quotes or ``=``."""
    return " ".join(f"{k}={_value(str(v))}" for k, v in fields.items())


def decision_fields(
    key: str, event: Event, before: Mapping[str, int], after: Mapping[str, int]
) -> dict[str, object]:
    """The structured form of one decision about route ``key``."""
    fields: dict[str, object] = {"route": key}
    if event.backend is not None:
        fields["backend"] = event.backend
        if event.backend in before or event.backend in after:
            fields["from_weight"] = before.get(event.backend, "-")
            fields["to_weight"] = after.get(event.backend, "-")
    fields |= {"type": event.type, "reason": event.reason, "message": event.message}
    return fields


def log_decision(key: str, event: Event, before: Mapping[str, int], after: Mapping[str, int]) -> None:
    """One INFO line for one decision (its Event), whatever the Event's type."""
    fields = decision_fields(key, event, before, after)
    log.info("decision %s", logfmt(fields), extra={"decision": fields})
