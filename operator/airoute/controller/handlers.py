"""The Kopf handlers: thin. Kopf watches the routes; one loop evaluates them.

Importing this module registers the handlers; ``airoute controller`` runs Kopf with it and puts
the loop, the route store and the Kubernetes config into ``memo`` (see ``controller/main.py``).

* ``airoute_changed`` — every watch event of an AIRoute goes to the route store, which keeps the
  route as the loop reads it (no ``managedFields``, the bulk of a stored object; see
  :func:`~airoute.controller.kubestore.stored_route`). An event that is not our own status write
  (a new spec, annotations such as a drill, someone else's write) wakes the loop instead of
  waiting for the next tick; a route listed (at start, or when a watch expired) waits for the
  tick: a cycle per listed route would evaluate the routes seen so far thousands of times. Not a
  Kopf index: Kopf holds every listed object until all are indexed, and its wait for that grows
  with the square of the routes (at 10,000 routes, minutes of CPU with every full object in
  memory, which the process then kept).
* One :class:`~airoute.controller.loop.EvaluationLoop` evaluates the routes that are due,
  with one read of the health signals, and PATCHes only the statuses that changed — while this
  replica acts (:mod:`airoute.controller.peering`). No handler writes to an AIRoute: Kopf needs no
  finalizer and keeps no progress in annotations.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from airoute.api import GROUP, PLURAL, VERSION
from airoute.controller.kubestore import KubeRoutes
from airoute.kube import KubeConfig

RESOURCE = (GROUP, VERSION, PLURAL)
LIST_CHUNK = 500
"""Routes per page of the first listing (and of a listing after a watch expired)."""


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
    # No handler needs a finalizer; naming the one earlier versions put on every route lets Kopf
    # take it off again (a finalizer nobody removes would keep a deleted route forever).
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.posting.level = logging.WARNING  # our Events say what changed; Kopf's own chatter stays in logs
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 30
    settings.watching.chunk_size = LIST_CHUNK  # the first listing decoded a page at a time, not all at once
    settings.peering.lifetime = memo.peering_lifetime
    # With explicit namespaces there is nothing to discover: no cluster-wide list/watch of
    # namespaces and CRDs, so the controller needs no cluster-wide RBAC at all.
    settings.scanning.disabled = bool(memo.namespaces)
    routes: KubeRoutes = memo.routes
    memo.stop = asyncio.Event()
    memo.tasks = [asyncio.create_task(memo.loop.run(memo.stop), name="airoute evaluation loop")]
    if routes.peering is not None:
        memo.tasks.append(asyncio.create_task(routes.peering.run(), name="airoute peering view"))


@kopf.on.cleanup(id="airoute_cleanup")
async def airoute_cleanup(memo: kopf.Memo, **_: Any) -> None:
    memo.stop.set()
    loop_task, *others = memo.tasks
    await loop_task
    for task in others:
        task.cancel()
    await memo.routes.client.close()


@kopf.on.event(*RESOURCE, id="airoute_changed")
async def airoute_changed(body: kopf.Body, memo: kopf.Memo, type: str | None, **_: Any) -> None:
    routes: KubeRoutes = memo.routes
    routes.saw(type, body)
    if type is not None and not routes.is_own_write(body):  # a listed route waits for the next tick
        memo.loop.wake()
