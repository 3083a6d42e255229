"""The Kopf handlers: thin. Kopf says which routes this replica evaluates; one loop evaluates them.

Importing this module registers the handlers; ``airoute controller`` runs Kopf with it and puts
the loop, the route store and the Kubernetes config into ``memo`` (see ``controller/main.py``).

* ``airoute_route`` — a daemon per AIRoute: while Kopf runs it, this replica owns the route.
  Kopf stops every daemon when it pauses for a higher-priority peer, so a standby owns nothing.
* ``airoute_changed`` — a watch event that is not our own status write (a new spec, annotations
  such as a drill, someone else's write) wakes the loop instead of waiting for the next tick.
* One :class:`~airoute.controller.loop.EvaluationLoop` evaluates every owned route that is due,
  with one read of the health signals, and PATCHes only the statuses that changed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from airoute.api import GROUP, PLURAL, VERSION
from airoute.controller.kubestore import KubeRoutes
from airoute.controller.loop import EvaluationLoop
from airoute.kube import KubeConfig

RESOURCE = (GROUP, VERSION, PLURAL)


@kopf.on.login(id="airoute_login")
def airoute_login(memo: kopf.Memo, **_: Any) -> kopf.ConnectionInfo:
    """Kopf talks to the API server as the route store does: one source of credentials."""
    config: KubeConfig = memo.kube_config
    return kopf.ConnectionInfo(
        server=config.server,
        ca_data=config.ca_data,
        insecure=config.insecure,
        token=config.bearer_token(),
        certificate_data=config.client_cert,
        private_key_data=config.client_key,
        default_namespace=config.namespace,
    )


@kopf.on.startup(id="airoute_startup")
async def airoute_startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.persistence.finalizer = f"{GROUP}/finalizer"  # Kopf stops a route's daemon before it is gone
    settings.posting.level = logging.WARNING  # our Events say what changed; Kopf's own chatter stays in logs
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 30
    # With explicit namespaces there is nothing to discover: no cluster-wide list/watch of
    # namespaces and CRDs, so the controller needs no cluster-wide RBAC at all.
    settings.scanning.disabled = bool(memo.namespaces)
    loop: EvaluationLoop = memo.loop
    memo.stop = asyncio.Event()
    memo.task = asyncio.create_task(loop.run(memo.stop), name="airoute evaluation loop")


@kopf.on.cleanup(id="airoute_cleanup")
async def airoute_cleanup(memo: kopf.Memo, **_: Any) -> None:
    memo.stop.set()
    await memo.task
    routes: KubeRoutes = memo.routes
    await routes.client.close()


@kopf.daemon(*RESOURCE, id="airoute_route", cancellation_timeout=5)
async def airoute_route(body: kopf.Body, stopped: kopf.DaemonStopped, memo: kopf.Memo, **_: Any) -> None:
    key = f"{body.metadata.namespace}/{body.metadata.name}"
    routes: KubeRoutes = memo.routes
    loop: EvaluationLoop = memo.loop
    routes.own(key, body)
    loop.wake()
    try:
        await stopped.wait()
    finally:
        routes.release(key)
        loop.evaluator.forget(key)


@kopf.on.event(*RESOURCE, id="airoute_changed")
def airoute_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    routes: KubeRoutes = memo.routes
    if not routes.is_own_write(body):
        memo.loop.wake()
