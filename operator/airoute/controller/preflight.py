"""Before Kopf starts: may this identity do what the controller will do? One clear line if not.

Without it a controller run with too few rights (a laptop user's kubeconfig, a namespaced
ServiceAccount started without ``--namespace``) starts anyway and Kopf logs a traceback per failed
watch, again and again. The API server answers the question itself: a SelfSubjectAccessReview per
right (any authenticated identity may ask), and a SelfSubjectReview for whom it is asking about.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from airoute.api import GROUP, PLURAL
from airoute.kube import KubeClient, KubeConfig, KubeError

ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
SELF_REVIEWS = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


class MissingRights(RuntimeError):
    """The identity may not do what the controller needs; the message says what and how to fix it."""


@dataclass(frozen=True)
class Right:
    verb: str
    group: str
    resource: str
    subresource: str = ""

    def text(self) -> str:
        what = f"{self.resource}.{self.group}" if self.group else self.resource
        return f"{self.verb} {what}" + (f"/{self.subresource}" if self.subresource else "")


def needed(peering: bool, clusterwide: bool) -> list[Right]:
    """What the controller does: watch AIRoutes, PATCH their status and (to remove spent levers)
    their metadata, post Events, and keep its KopfPeering alive."""
    rights = [
        *(Right(verb, GROUP, PLURAL) for verb in ("list", "watch", "patch")),
        Right("patch", GROUP, PLURAL, "status"),
        Right("create", "", "events"),
    ]
    if peering:
        kind = "clusterkopfpeerings" if clusterwide else "kopfpeerings"
        rights += [Right(verb, "kopf.dev", kind) for verb in ("get", "list", "watch", "patch")]
    return rights


async def _allowed(client: KubeClient, right: Right, namespace: str | None) -> bool:
    attributes = {"verb": right.verb, "group": right.group, "resource": right.resource}
    if right.subresource:
        attributes["subresource"] = right.subresource
    if namespace is not None and right.resource != "clusterkopfpeerings":
        attributes["namespace"] = namespace
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
              "spec": {"resourceAttributes": attributes}}  # fmt: skip
    answer = await client.create(ACCESS_REVIEWS, review)
    return bool(answer.get("status", {}).get("allowed"))


async def _who(client: KubeClient) -> str:
    try:
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        answer = await client.create(SELF_REVIEWS, review)
    except KubeError:
        return "this identity"
    return str(answer.get("status", {}).get("userInfo", {}).get("username") or "this identity")


async def missing(config: KubeConfig, namespaces: Sequence[str], peering: bool) -> tuple[str, list[str]]:
    """Who the kubeconfig is, and every right it lacks (``verb resource in where``)."""
    scopes: list[str | None] = list(namespaces) or [None]
    async with KubeClient(config, request_timeout=10, user_agent="airoute-controller") as client:
        who = await _who(client)
        checks = [(r, ns) for ns in scopes for r in needed(peering, clusterwide=not namespaces)]
        answers = await asyncio.gather(*(_allowed(client, r, ns) for r, ns in checks))
    lacking = [
        f"{r.text()} {'in all namespaces' if ns is None else f'in {ns}'}"
        for (r, ns), ok in zip(checks, answers, strict=True)
        if not ok
    ]
    return who, lacking


def require_rights(config: KubeConfig, namespaces: Sequence[str], peering: bool) -> None:
    """Raises MissingRights (one line) when the identity cannot run the controller as configured,
    or when the API server refuses its credentials. An API server that cannot be reached is left
    to Kopf, which reports and retries."""
    try:
        who, lacking = asyncio.run(missing(config, namespaces, peering))
    except KubeError as exc:
        if exc.status == 401:
            raise MissingRights(
                f"the API server at {config.server} refused the credentials (401 Unauthorized): the token "
                "expired or was revoked; get a new one (e.g. `kubectl create token`)"
            ) from None
        raise MissingRights(f"could not check the controller's rights at {config.server}: {exc}") from None
    except (aiohttp.ClientError, TimeoutError, OSError):
        return
    if not lacking:
        return
    rbac = "the chart's controller Role (charts/airoute/templates/controller-rbac.yaml)"
    hint = (
        f"pass --namespace NS (repeatable) for the namespaces it may watch, or bind it to {rbac} in every namespace"
        if not namespaces
        else f"bind it to {rbac} in each namespace, or pass --standalone to run without peering"
    )
    shown = "; ".join(lacking[:4]) + (f"; and {len(lacking) - 4} more" if len(lacking) > 4 else "")
    raise MissingRights(f"{who} may not {shown}: {hint}")
