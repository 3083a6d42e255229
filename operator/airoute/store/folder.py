"""A folder of AIRoute YAML files: the route source for use without Kubernetes.

Convention (shared with the gateway's folder source, see docs/gateway.md): any ``*.yaml`` /
``*.yml`` file under the folder (hidden ones skipped) holds AIRoutes, exactly as they would be
applied with kubectl; the controller writes the status of route ``<namespace>/<name>`` to
``<namespace>.<name>.status.yaml`` at the top of the folder (atomically: write, then rename).
Status files are never edited by people and never read as routes. Reading merges a route with
its status, so the result looks like what the API server returns.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

STATUS_SUFFIX = ".status.yaml"
_UNREADABLE = (OSError, ValueError, RecursionError, yaml.YAMLError)  # ValueError: not UTF-8; RecursionError: too deep
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_MAX_FILE_NAME = 255


@dataclass(frozen=True)
class LoadedRoute:
    """One AIRoute object read from a file (raw dict, status merged in), or why it could not be read."""

    source: Path
    index: int
    obj: Mapping[str, Any] | None
    error: str = ""

    @property
    def key(self) -> str:
        meta = (self.obj or {}).get("metadata", {}) if isinstance(self.obj, Mapping) else {}
        return f"{meta.get('namespace', 'default')}/{meta.get('name', f'{self.source.name}#{self.index}')}"


def status_path(folder: Path, namespace: str, name: str) -> Path:
    """Where the status of ``namespace/name`` goes; ValueError when the names cannot make a file name
    (a ``/``, ``..`` or anything that is not a Kubernetes name, or too long for the file system)."""
    file_name = f"{namespace}.{name}{STATUS_SUFFIX}"
    if not (_NAME.match(namespace) and _NAME.match(name)) or ".." in name or len(file_name.encode()) > _MAX_FILE_NAME:
        raise ValueError(f"{namespace}/{name}: no status file for this name (not a Kubernetes name, or too long)")
    return folder / file_name


def _is_route_file(path: Path, folder: Path) -> bool:
    hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
    return path.suffix in (".yaml", ".yml") and not path.name.endswith(STATUS_SUFFIX) and not hidden


class FolderRoutes:
    """Reads AIRoutes from a folder and writes their status next to them."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def files(self) -> list[Path]:
        return sorted(p for p in self.folder.rglob("*") if p.is_file() and _is_route_file(p, self.folder))

    def fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        """Cheap change detection: names, sizes and mtimes of every route and status file."""
        out = []
        for p in sorted(self.folder.rglob("*")):
            if p.is_file() and p.suffix in (".yaml", ".yml"):
                st = p.stat()
                out.append((p.name, st.st_size, st.st_mtime_ns))
        return tuple(out)

    def load(self) -> list[LoadedRoute]:
        routes: list[LoadedRoute] = []
        for path in self.files():
            routes.extend(self._load_file(path))
        return routes

    def _load_file(self, path: Path) -> Iterator[LoadedRoute]:
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except _UNREADABLE as exc:
            yield LoadedRoute(path, 0, None, f"{path.name}: cannot read YAML: {unreadable(exc)}")
            return
        for i, doc in enumerate(docs):
            if not isinstance(doc, Mapping) or doc.get("kind") != "AIRoute":
                continue
            yield LoadedRoute(path, i, self._with_status(path, dict(doc)))

    def _with_status(self, path: Path, doc: dict[str, Any]) -> dict[str, Any]:
        meta = doc.get("metadata") if isinstance(doc.get("metadata"), Mapping) else {}
        assert isinstance(meta, Mapping)
        namespace, name = str(meta.get("namespace", "default")), str(meta.get("name", ""))
        doc["metadata"] = {"namespace": namespace, **meta, "generation": _generation(doc)}
        try:
            spath = status_path(self.folder, namespace, name)
        except ValueError:
            return doc
        if spath.exists():
            try:
                status = yaml.safe_load(spath.read_text())
            except _UNREADABLE:
                status = None
            if isinstance(status, Mapping):
                doc["status"] = dict(status)
        return doc

    def write_status(self, route: LoadedRoute, status: Mapping[str, Any]) -> Path:
        meta = (route.obj or {}).get("metadata", {})
        target = status_path(self.folder, str(meta.get("namespace", "default")), str(meta.get("name", "")))
        text = "# Written by the airoute controller. Do not edit.\n" + yaml.safe_dump(dict(status), sort_keys=False)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, target)
        return target


def _generation(doc: Mapping[str, Any]) -> int:
    """A stand-in for metadata.generation: stable while the spec is unchanged (files have no counter)."""
    blob = json.dumps(doc.get("spec"), sort_keys=True, default=str).encode()
    return int(hashlib.sha256(blob).hexdigest()[:8], 16) % 1_000_000_000 + 1


def unreadable(exc: BaseException) -> str:
    """Why a YAML file could not be read, without quoting it: YAML errors show the offending line,
    and a file of routes may also hold a Secret."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return f"{exc.problem or exc.context or 'invalid YAML'}{where}"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__
