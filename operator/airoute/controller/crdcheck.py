"""Refusing to start against an AIRoute CRD older than this controller.

Helm never upgrades a chart's ``crds/`` folder, and a GitOps tool may sync the controller before
the CRD. An older CRD is worse than a missing one: the API server silently drops (prunes) every
field its schema does not know, so new spec fields never reach the controller and new status
fields it writes vanish. At start-up the controller reads the CRD (``get`` on
``customresourcedefinitions/airoutes.airoute.dev``, which the chart grants) and compares the
served version's schema with the one it was built with (``airoute crd``): every field path and
every enum value of its own schema must be there. A newer CRD is fine (CRDs are upgraded first).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import aiohttp

from airoute import __version__
from airoute.api.base import VERSION
from airoute.api.crd import CRD_FILE, CRD_NAME, custom_resource_definition
from airoute.kube.client import KubeClient, KubeError
from airoute.kube.config import KubeConfig

log = logging.getLogger("airoute.controller")
CRD_PATH = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD_NAME}"
MAX_SHOWN = 8


class OutdatedCRD(RuntimeError):
    """The cluster's AIRoute CRD is missing or older than this controller; the message says what to do."""


def _fields(schema: dict[str, Any], path: str = "") -> Iterator[str]:
    """Every property path (``spec.backends[].name``) and enum value (``spec.tier=critical``)."""
    for value in schema.get("enum") or []:
        yield f"{path}={value}"
    for name, child in (schema.get("properties") or {}).items():
        child_path = f"{path}.{name}" if path else name
        yield child_path
        yield from _fields(child, child_path)
    if isinstance(schema.get("items"), dict):
        yield from _fields(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _fields(schema["additionalProperties"], f"{path}{{}}")


def _served_schema(crd: dict[str, Any]) -> dict[str, Any] | None:
    for version in (crd.get("spec") or {}).get("versions") or []:
        if version.get("name") == VERSION and version.get("served"):
            schema: dict[str, Any] = (version.get("schema") or {}).get("openAPIV3Schema") or {}
            return schema
    return None


def missing_fields(live: dict[str, Any], expected: dict[str, Any]) -> list[str] | None:
    """What ``expected``'s served schema has that ``live``'s lacks (sorted); None when ``live``
    does not serve this controller's version at all."""
    live_schema, wanted = _served_schema(live), _served_schema(expected)
    assert wanted is not None, "the generated CRD serves its own version"
    if live_schema is None:
        return None
    return sorted(set(_fields(wanted)) - set(_fields(live_schema)))


def _how_to_upgrade() -> str:
    return (
        f"Upgrade the CRD, then restart the controller: `helm upgrade RELEASE CHART --reset-then-reuse-values` "
        f"(the chart installs and upgrades it unless crds.install=false), or "
        f"`kubectl apply --server-side -f crds/{CRD_FILE}` from airoute {__version__} "
        f"(`airoute crd --stdout` prints it)."
    )


def verdict(live: dict[str, Any] | None) -> str | None:
    """Why this controller must not start against ``live`` (None: it may)."""
    if live is None:
        return f"the AIRoute CRD ({CRD_NAME}) is not installed. " + _how_to_upgrade()
    missing = missing_fields(live, custom_resource_definition())
    if missing is None:
        return (
            f"the AIRoute CRD in the cluster does not serve {VERSION}, the version airoute {__version__} "
            f"reads and writes. " + _how_to_upgrade()
        )
    if missing:
        more = len(missing) - MAX_SHOWN
        shown = ", ".join(missing[:MAX_SHOWN]) + (f" and {more} more" if more > 0 else "")
        return (
            f"the AIRoute CRD in the cluster is older than this controller (airoute {__version__}): it lacks "
            f"{shown}; the API server would drop these fields. " + _how_to_upgrade()
        )
    return None


async def _read(config: KubeConfig) -> dict[str, Any] | None:
    async with KubeClient(config, request_timeout=10, user_agent="airoute-controller") as client:
        try:
            return await client.get(CRD_PATH)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise


def require_current_crd(config: KubeConfig) -> None:
    """Raises OutdatedCRD when the cluster's AIRoute CRD is missing or older than this controller.
    When the CRD cannot be read (no right to, API server unreachable), logs why and returns:
    Kopf reports an unreachable cluster itself."""
    try:
        live = asyncio.run(_read(config))
    except (KubeError, aiohttp.ClientError, TimeoutError, OSError) as exc:
        log.warning("could not check the AIRoute CRD's version (%s): grant `get` on "
                    "customresourcedefinitions/%s to check it at start-up", exc, CRD_NAME)  # fmt: skip
        return
    reason = verdict(live)
    if reason:
        raise OutdatedCRD(reason)
