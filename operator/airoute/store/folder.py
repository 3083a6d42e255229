"""A folder of YAML files: where AIRoutes, their status and their Secrets live without a cluster.
One reader for the controller (``airoute controller --routes-dir``) and the gateway (``airoute
gateway --routes``); the convention (docs/gateway.md):

* every ``*.yaml`` / ``*.yml`` file under the folder (recursively; hidden files and folders
  skipped) may hold any number of YAML documents, exactly as they would be applied with kubectl:
  ``kind: AIRoute`` documents are routes, ``kind: Secret`` documents are Secrets (``data`` base64
  or ``stringData``), ``kind: List`` items are looked into, anything else is ignored;
* the status of route ``<namespace>/<name>`` is the file ``<namespace>.<name>.status.yaml`` at the
  top of the folder, holding the status mapping itself; the controller writes it (atomically:
  write, then rename), people never edit it, and it is never read as routes. An inline ``status:``
  in the route document is used when there is no status file. A route without a namespace is in
  ``default``;
* reading merges a route with its status and gives it a ``metadata.generation`` that moves with its
  spec, so the result looks like what the API server returns.

A file that cannot be read is a *problem* of the read, named by the file and never quoting it (a
file of routes may hold a Secret): the controller reports it and goes on with the rest; the
gateway keeps its last good table until the folder reads cleanly.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from airoute.api.objects import SecretData, SecretDataError, is_route_credential, name_of, namespace_of, secret_data

STATUS_SUFFIX = ".status.yaml"
_UNREADABLE = (OSError, ValueError, RecursionError, yaml.YAMLError)  # ValueError: not UTF-8; RecursionError: too deep
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_MAX_FILE_NAME = 255


@dataclass(frozen=True)
class LoadedRoute:
    """One AIRoute read from a file (status merged in), or why it could not be read (``obj`` is
    None). ``index`` is the document in the file, ``item`` the entry of a ``kind: List`` document."""

    source: Path
    index: int
    obj: Mapping[str, Any] | None
    error: str = ""
    item: int | None = None

    @property
    def key(self) -> str:
        if self.obj is None:
            return f"default/{self.source.name}#{self.index}"
        return f"{namespace_of(self.obj)}/{name_of(self.obj) or f'{self.source.name}#{self.index}'}"


@dataclass(frozen=True)
class FolderContents:
    """One read of a folder: the routes, the Secrets (``namespace/name`` → key → value), and the
    problems met (files, documents or status files that could not be read)."""

    routes: list[LoadedRoute] = field(default_factory=list)
    secrets: dict[str, SecretData] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def status_path(folder: Path, namespace: str, name: str) -> Path:
    """Where the status of ``namespace/name`` goes; ValueError when the names cannot make a file name
    (a ``/``, ``..`` or anything that is not a Kubernetes name, or too long for the file system)."""
    file_name = f"{namespace}.{name}{STATUS_SUFFIX}"
    if not (_NAME.match(namespace) and _NAME.match(name)) or ".." in name or len(file_name.encode()) > _MAX_FILE_NAME:
        raise ValueError(f"{namespace}/{name}: no status file for this name (not a Kubernetes name, or too long)")
    return folder / file_name


def yaml_files(folder: Path) -> Iterator[Path]:
    """Every YAML file of the folder that the convention reads, status files included."""
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or path.suffix not in (".yaml", ".yml"):
            continue
        if path.is_file():
            yield path


def fingerprint(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and modification times of every file read: changes when anything changes."""
    out = []
    for path in yaml_files(folder):
        try:
            stat = path.stat()
        except OSError:
            continue
        out.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(out)


class ParsedFiles:
    """What earlier reads parsed of each file, used again while the file's inode, size and
    modification time are the same: a read after one file changed parses that file only."""

    def __init__(self) -> None:
        self._parsed: dict[Path, tuple[tuple[int, int, int], list[Any]]] = {}

    def documents(self, path: Path) -> list[Any]:
        """The YAML documents of ``path`` (raises what reading or parsing it raises)."""
        stat = path.stat()
        mark = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        cached = self._parsed.get(path)
        if cached is None or cached[0] != mark:
            cached = (mark, list(yaml.safe_load_all(path.read_text())))
            self._parsed[path] = cached
        return cached[1]

    def keep_only(self, paths: set[Path]) -> None:
        for gone in [p for p in self._parsed if p not in paths]:
            del self._parsed[gone]


def read_folder(folder: Path, cache: ParsedFiles | None = None) -> FolderContents:
    """One read of the folder (blocking file I/O); a missing folder is a problem too. ``cache``:
    what an earlier read parsed (see :class:`ParsedFiles`)."""
    cache = cache if cache is not None else ParsedFiles()
    found = FolderContents()
    if not folder.is_dir():
        found.problems.append(f"route folder {folder} does not exist")
        return found
    read = {path for path in yaml_files(folder) if not path.name.endswith(STATUS_SUFFIX)}
    for path in sorted(read):
        _read_file(folder, path, found, cache)
    for i, loaded in enumerate(found.routes):
        if loaded.obj is not None:
            found.routes[i] = _with_status(folder, loaded, found.problems, cache, read)
    cache.keep_only(read)
    return found


def _where(folder: Path, path: Path) -> str:
    return str(path.relative_to(folder))


def _read_file(folder: Path, path: Path, found: FolderContents, cache: ParsedFiles) -> None:
    where = _where(folder, path)
    try:
        docs = cache.documents(path)
    except _UNREADABLE as exc:
        found.problems.append(f"{where}: cannot read YAML: {unreadable(exc)}")
        return
    for index, doc in enumerate(docs):
        if isinstance(doc, Mapping) and doc.get("kind") == "List":
            items = doc.get("items") or ()
            for item, obj in enumerate(items if isinstance(items, list) else ()):
                if isinstance(obj, Mapping):
                    _read_object(where, LoadedRoute(path, index, obj, item=item), found)
        elif isinstance(doc, Mapping):
            _read_object(where, LoadedRoute(path, index, doc), found)
        elif doc is not None:
            found.problems.append(f"{where}: document {index + 1} is not a mapping")


def _read_object(where: str, loaded: LoadedRoute, found: FolderContents) -> None:
    obj = loaded.obj
    assert obj is not None
    if obj.get("kind") == "AIRoute":
        found.routes.append(loaded)
    elif obj.get("kind") == "Secret" and is_route_credential(obj):  # others are no route's business
        try:
            found.secrets[f"{namespace_of(obj)}/{name_of(obj)}"] = secret_data(obj)
        except SecretDataError as exc:
            found.problems.append(f"{where}: Secret {name_of(obj)}: {exc}")


def _with_status(folder: Path, loaded: LoadedRoute, problems: list[str], cache: ParsedFiles,
                 read: set[Path]) -> LoadedRoute:
    doc = dict(loaded.obj or {})
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    namespace, name = namespace_of(doc), name_of(doc)
    doc["metadata"] = {**meta, "namespace": namespace, "generation": _generation(doc)}
    try:
        spath = status_path(folder, namespace, name)
    except ValueError:
        return LoadedRoute(loaded.source, loaded.index, doc, item=loaded.item)
    if spath.is_file():
        read.add(spath)
        try:
            docs = cache.documents(spath)
            if len(docs) > 1:
                raise yaml.YAMLError("expected a single document in the stream")
            status = docs[0] if docs else None
        except _UNREADABLE as exc:
            status = None
            problems.append(f"{spath.name}: cannot read YAML: {unreadable(exc)}")
        if isinstance(status, Mapping):
            doc["status"] = dict(status)
        elif status is not None:
            problems.append(f"{spath.name}: the status file must hold a mapping")
    return LoadedRoute(loaded.source, loaded.index, doc, item=loaded.item)


class FolderRoutes:
    """The controller's view of a folder: its routes (:meth:`load`) and their status (:meth:`write_status`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def load(self) -> list[LoadedRoute]:
        """The routes, and one entry without ``obj`` for every problem of the read."""
        found = read_folder(self.folder)
        broken = [LoadedRoute(self.folder, i, None, problem) for i, problem in enumerate(found.problems)]
        return [*found.routes, *broken]

    def write_status(self, route: LoadedRoute, status: Mapping[str, Any]) -> Path:
        obj = route.obj or {}
        target = status_path(self.folder, namespace_of(obj), name_of(obj))
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
