"""Route source for use without a cluster: a folder of YAML files, polled for changes.

Convention (docs/gateway.md; the controller's folder mode writes the status files):

* every ``*.yaml`` / ``*.yml`` file under the folder (recursively; hidden files and folders and
  ``*.tmp`` skipped) may hold any number of YAML documents; ``kind: AIRoute`` documents are
  routes, ``kind: Secret`` documents are Secrets (``data`` base64 or ``stringData``), ``kind:
  List`` items are looked into, anything else is ignored;
* the status of route ``<namespace>/<name>`` is the file ``<namespace>.<name>.status.yaml`` at the
  top of the folder, holding the status mapping itself (``observedGeneration``, ``weights``,
  ``canaryWeights``, …). An inline ``status:`` in the route document is used when there is no
  status file. A route without a namespace is in ``default``.
* writers replace files atomically (write ``.<file>.tmp``, then rename); a file that does not
  parse makes the whole read fail, and the gateway keeps its last good table until it parses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from airoute.api.objects import SecretDataError, name_of, namespace_of, secret_data
from airoute.gateway.routetable.snapshot import (
    OnFailure,
    OnSnapshot,
    Snapshot,
    SnapshotError,
)
from airoute.store import unreadable

log = logging.getLogger(__name__)

STATUS_SUFFIX = ".status.yaml"


def status_file(folder: Path, namespace: str, name: str) -> Path:
    """Where the status of ``namespace/name`` lives in a route folder."""
    return folder / f"{namespace}.{name}{STATUS_SUFFIX}"


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or path.suffix not in (".yaml", ".yml"):
            continue
        if path.is_file():
            yield path


def fingerprint(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of every file read: changes when anything changes."""
    out = []
    for path in _files(folder):
        try:
            stat = path.stat()
        except OSError:
            continue
        out.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(out)


def _documents(path: Path) -> Iterator[Mapping[str, Any]]:
    try:
        docs = list(yaml.safe_load_all(path.read_text()))
    except (OSError, ValueError, RecursionError, yaml.YAMLError) as exc:
        raise SnapshotError(f"{path}: {unreadable(exc)}") from None
    for doc in docs:
        if isinstance(doc, Mapping) and doc.get("kind") == "List":
            yield from (item for item in doc.get("items") or () if isinstance(item, Mapping))
        elif isinstance(doc, Mapping):
            yield doc
        elif doc is not None:
            raise SnapshotError(f"{path}: a document is not a mapping")


def _status(path: Path) -> Mapping[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, ValueError, RecursionError, yaml.YAMLError) as exc:
        raise SnapshotError(f"{path}: {unreadable(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise SnapshotError(f"{path}: the status file must hold a mapping")
    return data


def read_folder(folder: str | Path) -> Snapshot:
    """One consistent read of a route folder; raises :class:`SnapshotError`."""
    root = Path(folder)
    if not root.is_dir():
        raise SnapshotError(f"route folder {root} does not exist")
    routes: list[dict[str, Any]] = []
    statuses: dict[str, Mapping[str, Any]] = {}
    secrets = {}
    for path in _files(root):
        if path.name.endswith(STATUS_SUFFIX):
            if path.parent == root:
                statuses[path.name[: -len(STATUS_SUFFIX)]] = _status(path)
            continue
        for doc in _documents(path):
            if doc.get("kind") == "AIRoute":
                routes.append(dict(doc))
            elif doc.get("kind") == "Secret":
                try:
                    secrets[f"{namespace_of(doc)}/{name_of(doc)}"] = secret_data(doc)
                except SecretDataError as exc:
                    raise SnapshotError(f"{path}: Secret {name_of(doc)}: {exc}") from exc
    for route in routes:
        status = statuses.get(f"{namespace_of(route)}.{name_of(route)}")
        if status is not None:
            route["status"] = status
    return Snapshot(tuple(routes), secrets, str(root))


class FolderSource:
    """Polls a folder every ``interval`` seconds; reports a new snapshot when files changed."""

    def __init__(self, folder: str | Path, interval: float = 1.0) -> None:
        self.folder = Path(folder)
        self.interval = interval
        self._seen: tuple[tuple[str, int, int], ...] | None = None

    def __str__(self) -> str:
        return f"folder {self.folder}"

    def check(self) -> Snapshot | str | None:
        """One check (blocking file I/O): a new snapshot when files changed, an error message when
        they do not read, None when nothing changed."""
        try:
            current = fingerprint(self.folder)
        except OSError as exc:
            return f"cannot list route folder {self.folder}: {exc}"
        if current == self._seen:
            return None
        self._seen = current  # a failed read is retried when the files change again
        try:
            return read_folder(self.folder)
        except SnapshotError as exc:
            return str(exc)

    async def run(self, on_snapshot: OnSnapshot, on_failure: OnFailure) -> None:
        """Polls until cancelled; file I/O runs in a thread, callbacks on the event loop."""
        while True:
            try:
                result = await asyncio.to_thread(self.check)
            except Exception as exc:  # whatever is in the folder, the source keeps watching it
                log.exception("reading route folder %s failed", self.folder)
                result = f"cannot read route folder {self.folder}: {type(exc).__name__}: {exc}"
            if isinstance(result, Snapshot):
                on_snapshot(result)
            elif result is not None:
                on_failure(result)
            await asyncio.sleep(self.interval)
