"""The Kopf handlers: thin. Parse → observe through ports → decide in the core → write status.

Importing this module registers the handlers; ``airoute controller`` runs Kopf with it. The
timer interval is the controller's tick (``AIROUTE_CONTROLLER_TICK``, seconds); each route is
evaluated when its own ``spec.health.interval`` has passed, with the shared batched snapshot.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import kopf

from airoute.api import GROUP, PLURAL, VERSION
from airoute.controller.notify import WebhookNotifier
from airoute.controller.reconciler import Outcome
from airoute.controller.shared import SharedSignals, status_patch

TICK = float(os.environ.get("AIROUTE_CONTROLLER_TICK", "5"))
RESOURCE = (GROUP, VERSION, PLURAL)


@kopf.on.startup(id="airoute_startup")
async def airoute_startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING  # our Events say what changed; Kopf's own chatter stays in logs
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 30
    # With explicit namespaces there is nothing to discover: no cluster-wide list/watch of
    # namespaces and CRDs, so the controller needs no cluster-wide RBAC at all.
    settings.scanning.disabled = bool(getattr(memo, "namespaces", None))


async def _apply(outcome: Outcome | None, body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo) -> None:
    if outcome is None:
        return
    patch.status.update(status_patch(body.get("status"), outcome.decision.status.to_wire()))
    notifier: WebhookNotifier | None = getattr(memo, "notifier", None)
    for event in outcome.decision.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)
        if notifier is not None:
            await notifier.notify(outcome.key, event)


@kopf.on.resume(*RESOURCE, id="airoute_reconcile")
@kopf.on.create(*RESOURCE, id="airoute_reconcile")
@kopf.on.update(*RESOURCE, id="airoute_reconcile")
async def airoute_reconcile(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
    shared: SharedSignals = memo.shared
    await _apply(await shared.evaluate(dict(body), force=True), body, patch, memo)


@kopf.timer(*RESOURCE, interval=TICK, idle=None, id="airoute_evaluate")
async def airoute_evaluate(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **_: Any) -> None:
    shared: SharedSignals = memo.shared
    await _apply(await shared.evaluate(dict(body), force=False), body, patch, memo)


@kopf.on.delete(*RESOURCE, id="airoute_forget", optional=True)
async def airoute_forget(namespace: str | None, name: str | None, memo: kopf.Memo, **_: Any) -> None:
    shared: SharedSignals = memo.shared
    shared.forget(f"{namespace}/{name}")
    if shared.reconciler.telemetry is not None:
        shared.reconciler.telemetry.forget(str(namespace), str(name))
