"""A small async Kubernetes API client over aiohttp: get, list, watch, merge and JSON patch, create.

Watches resume from the last resourceVersion seen (bookmarks included); a ``410 Gone`` — as a
status or as an ``ERROR`` event — means the version is too old and the caller relists. What the
API server answers is decoded by ``decode`` (:func:`json.loads` unless the caller hands a faster
one that reads JSON alike: the gateway decodes the 10,000 objects of its first watch with
``orjson``, :mod:`airoute.providers.fastjson`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import aiohttp

from airoute.kube.config import KubeConfig

log = logging.getLogger(__name__)

KubeObject = dict[str, Any]
Decode = Callable[[bytes], Any]


class KubeError(Exception):
    """The API server answered with an error status."""

    def __init__(self, status: int, message: str, reason: str = "") -> None:
        super().__init__(f"{status} {reason}: {message}" if reason else f"{status}: {message}")
        self.status = status
        self.reason = reason


class Gone(KubeError):
    """410: the resourceVersion is too old to watch from; list again."""


def _error(status: int, text: str) -> KubeError:
    message, reason = text, ""
    try:
        body = json.loads(text)
        message, reason = body.get("message", text), body.get("reason", "")
    except (ValueError, AttributeError):
        pass
    return (Gone if status == 410 else KubeError)(status, message, reason)


class KubeClient:
    """Requests to one API server as one user; use as an async context manager."""

    def __init__(self, config: KubeConfig, request_timeout: float = 30.0, user_agent: str = "airoute-gateway",
                 decode: Decode = json.loads) -> None:
        self.config = config
        self.decode = decode
        self.request_timeout = request_timeout
        self.user_agent = user_agent
        self._ssl = config.ssl_context()
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self._ssl if self._ssl is not None else False, limit=32)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": self.user_agent}
        token = self.config.bearer_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> KubeObject:
        """GET ``path`` (e.g. ``/api/v1/namespaces/x/secrets/y``) and return the JSON object."""
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        async with self.session.get(
            self.config.server + path, params=params or {}, headers=self._headers(), timeout=timeout
        ) as response:
            data = await response.read()
            if response.status != 200:
                raise _error(response.status, data.decode(errors="replace"))
            body: KubeObject = self.decode(data)
            return body

    async def _send(self, method: str, path: str, body: object, content_type: str) -> KubeObject:
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        headers = {**self._headers(), "Content-Type": content_type}
        async with self.session.request(
            method, self.config.server + path, data=json.dumps(body), headers=headers, timeout=timeout
        ) as response:
            text = await response.text()
            if response.status not in (200, 201):
                raise _error(response.status, text)
            answer: KubeObject = json.loads(text)
            return answer

    async def merge_patch(self, path: str, patch: Mapping[str, Any]) -> KubeObject:
        """PATCH ``path`` with a JSON merge patch; returns the object as stored. A
        ``metadata.resourceVersion`` in the patch is a precondition (409 when it moved on)."""
        return await self._send("PATCH", path, patch, "application/merge-patch+json")

    async def json_patch(self, path: str, ops: Sequence[Mapping[str, Any]]) -> KubeObject:
        """PATCH ``path`` with a JSON patch (RFC 6902); a failed ``test`` op answers 422."""
        return await self._send("PATCH", path, list(ops), "application/json-patch+json")

    async def create(self, path: str, obj: Mapping[str, Any]) -> KubeObject:
        """POST ``obj`` to the collection ``path``; returns the object as stored."""
        return await self._send("POST", path, obj, "application/json")

    async def list(self, path: str, params: Mapping[str, str] | None = None) -> tuple[list[KubeObject], str]:
        """All objects of a collection (following ``continue``) and the list's resourceVersion."""
        items: list[KubeObject] = []
        version = ""
        async for page, at in self.list_pages(path, params):
            items.extend(page)
            version = at
        return items, version

    async def list_pages(
        self, path: str, params: Mapping[str, str] | None = None, limit: int = 500
    ) -> AsyncIterator[tuple[Sequence[KubeObject], str]]:
        """The objects of a collection a page at a time (``limit`` each, following ``continue``),
        each with the list's resourceVersion (the last page's is the one to watch from)."""
        query = {"limit": str(limit), **(params or {})}
        while True:
            body = await self.get(path, query)
            meta = body.get("metadata") or {}
            yield body.get("items") or [], str(meta.get("resourceVersion", ""))
            if not meta.get("continue"):
                return
            query["continue"] = meta["continue"]

    async def watch(
        self, path: str, resource_version: str, timeout_seconds: int = 300, params: Mapping[str, str] | None = None
    ) -> AsyncIterator[KubeObject]:
        """Watch events (``{"type", "object"}``) from ``resource_version``; ends when the server
        closes the watch. Raises :class:`Gone` when the version is too old."""
        query = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "resourceVersion": resource_version,
            "timeoutSeconds": str(timeout_seconds),
            **(params or {}),
        }
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.request_timeout, sock_read=timeout_seconds + 30)
        async with self.session.get(
            self.config.server + path, params=query, headers=self._headers(), timeout=timeout
        ) as response:
            if response.status != 200:
                raise _error(response.status, await response.text())
            buffer = b""
            async for data in response.content.iter_any():
                buffer += data
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield _checked(self.decode(line))
            if buffer.strip():
                yield _checked(self.decode(buffer))


def _checked(event: KubeObject) -> KubeObject:
    """``event``, unless it is an ``ERROR`` event: then its error is raised."""
    if event.get("type") == "ERROR":
        status = event.get("object") or {}
        raise _error(int(status.get("code") or 500), json.dumps(status))
    return event
