"""The manual levers: annotations people (or ``airoute drill|promote|abort``) put on an AIRoute.

* ``drill.airoute.dev/<backend>: <RFC 3339 end>`` — take the backend out until then;
* ``airoute.dev/promote`` / ``airoute.dev/abort`` — the rollout gates. Their value names the
  rollout they are meant for: ``<canary hash>@<rollout start>`` (what the CLI writes), or a bare
  ``<canary hash>`` (set by hand) for whichever rollout of that block is running.

A lever applies once. The controller removes it once it has done its work — a gate when it names
no running rollout any more (acted on, or stale), a drill once its report is in status — so a
lever left behind never fires on a later canary (see :func:`airoute.core.levers.spent_levers`).
"""

from __future__ import annotations

DRILL_PREFIX = "drill.airoute.dev/"
PROMOTE = "airoute.dev/promote"
ABORT = "airoute.dev/abort"
GATES = (PROMOTE, ABORT)
RUNNING = ("Progressing", "Paused")


def gate_value(canary_hash: str, started: str) -> str:
    """The value of a gate meant for one rollout: its canary and when it started."""
    return f"{canary_hash}@{started}"


def names_rollout(value: str, canary_hash: str, started: str) -> bool:
    """Whether a gate's ``value`` is meant for the rollout of ``canary_hash`` started at ``started``."""
    text = value.strip()
    return bool(text) and text in (canary_hash, gate_value(canary_hash, started))
