"""The Kopf handlers: thin. Kopf keeps an index of the routes; one loop evaluates them.

Importing this module registers the handlers; ``airoute controller`` runs Kopf with it and puts
the loop, the route store and the Kubernetes config into ``memo`` (see ``controller/main.py``).

* ``airoute_routes`` — an index of every AIRoute as the loop reads it (no ``managedFields``,
  the bulk of a stored object).
* ``airoute_changed`` — a watch event that is not our own status write (a new spec, annotations
  such as a drill, someone else's write) wakes the loop instead of waiting for the next tick.
* One :class:`~airoute.controller.loop.EvaluationLoop` evaluates the indexed routes that are due,
  with one read of the health signals, and PATCHes only the statuses that changed — while this
  replica acts (:mod:`airoute.controller.peering`). No handler writes to an AIRoute: Kopf needs no
  finalizer and keeps no progress in annotations.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from airoute.api import GROUP, PLURAL, VERSION
from airoute.api.objects import object_key
from airoute.controller.kubestore import KubeRoutes, stored_route
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
async def airoute_startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **kwargs: Any) -> None:
    index: kopf.Index[str, Mapping[str, Any]] = kwargs["airoute_routes"]  # Kopf passes indices by handler id
    # No handler needs a finalizer; naming the one earlier versions put on every route lets Kopf
    # take it off again (a finalizer nobody removes would keep a deleted route forever).
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.posting.level = logging.WARNING  # our Events say what changed; Kopf's own chatter stays in logs
    settings.watching.server_timeout = 300
    settings.networking.request_timeout = 30
    settings.peering.lifetime = memo.peering_lifetime
    # With explicit namespaces there is nothing to discover: no cluster-wide list/watch of
    # namespaces and CRDs, so the controller needs no cluster-wide RBAC at all.
    settings.scanning.disabled = bool(memo.namespaces)
    routes: KubeRoutes = memo.routes
    routes.follow(index)
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


@kopf.index(*RESOURCE, id="airoute_routes")
async def airoute_routes(body: kopf.Body, **_: Any) -> dict[str, dict[str, Any]]:
    return {object_key(body): stored_route(body)}


@kopf.on.event(*RESOURCE, id="airoute_changed")
async def airoute_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    routes: KubeRoutes = memo.routes
    if not routes.is_own_write(body):
        memo.loop.wake()
