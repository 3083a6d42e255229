"""Kubernetes objects airoute reads without modelling them: the ``namespace/name`` key of any
object (an object without a namespace is in ``default``, as ``kubectl apply`` would put it), and
the data of a Secret."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

SecretData = Mapping[str, bytes]
"""A Secret's values by key, decoded."""

CREDENTIALS_LABEL = "airoute.dev/credentials"
CREDENTIALS_SELECTOR = f"{CREDENTIALS_LABEL}=true"
"""Only Secrets labelled so are route credentials (issue 14.5): the gateway lists and watches
those alone, so an AIRoute cannot name any other Secret of its namespace (a database password,
the gateway's own client keys) and have it sent to an endpoint of its choosing."""


def is_route_credential(secret: Mapping[str, Any]) -> bool:
    """Whether a Secret opted in as a route credential (``airoute.dev/credentials: "true"``)."""
    meta = secret.get("metadata")
    labels = meta.get("labels") if isinstance(meta, Mapping) else None
    return isinstance(labels, Mapping) and labels.get(CREDENTIALS_LABEL) == "true"


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    meta = obj.get("metadata")
    # A dict first: the check of the Mapping ABC costs more than the rest (every route, every cycle).
    if type(meta) is dict:
        return meta
    return meta if isinstance(meta, Mapping) else None


def namespace_of(obj: Mapping[str, Any]) -> str:
    meta = _metadata(obj)
    namespace = meta.get("namespace") if meta is not None else None
    return str(namespace) if namespace else "default"


def name_of(obj: Mapping[str, Any]) -> str:
    meta = _metadata(obj)
    name = meta.get("name") if meta is not None else None
    return str(name) if name else ""


def object_key(obj: Mapping[str, Any]) -> str:
    """``namespace/name`` of an object."""
    meta = _metadata(obj)
    if meta is None:
        return "default/"
    namespace, name = meta.get("namespace"), meta.get("name")
    return f"{namespace if namespace else 'default'}/{name if name else ''}"


def split_key(key: str) -> tuple[str, str]:
    """``namespace/name`` → ``(namespace, name)``; ValueError when it is not of that form."""
    namespace, sep, name = key.partition("/")
    if not sep or not namespace or not name or "/" in name:
        raise ValueError(f"{key!r} is not namespace/name")
    return namespace, name


class SecretDataError(ValueError):
    """A Secret's ``data`` holds a value that is not base64 (the message names the key only)."""


def secret_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """A Secret's ``data`` (base64-decoded) merged with its ``stringData`` (which wins, as the API
    server merges them)."""
    out: dict[str, bytes] = {}
    data = secret.get("data")
    if isinstance(data, Mapping):
        for key, value in data.items():
            try:
                out[str(key)] = base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError):
                raise SecretDataError(f"Secret key {key!r} is not base64") from None
    string_data = secret.get("stringData")
    if isinstance(string_data, Mapping):
        out.update({str(k): str(v).encode() for k, v in string_data.items()})
    return out
