"""Where the commands find routes: the cluster (through kubectl and its current context) or a folder.

Using kubectl keeps the user's kubeconfig, context, auth plugins and RBAC exactly as they are —
the commands behave like a kubectl plugin.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import yaml

from airoute.store import FolderRoutes


class RouteStoreError(RuntimeError):
    """The routes could not be read or changed; the message says why."""


class RouteStore(Protocol):
    def routes(self) -> list[dict[str, Any]]: ...

    def annotate(self, namespace: str, name: str, key: str, value: str | None) -> None: ...

    def events(self, namespace: str, name: str) -> list[dict[str, Any]]: ...


def find(objs: Sequence[Mapping[str, Any]], ref: str, namespace: str | None) -> dict[str, Any]:
    """The route called ``ref`` (``name`` or ``namespace/name``); a clear error when not exactly one."""
    ns, _, name = ref.rpartition("/")
    ns = ns or namespace or ""
    hits = [
        dict(o)
        for o in objs
        if o.get("metadata", {}).get("name") == name and (not ns or o.get("metadata", {}).get("namespace") == ns)
    ]
    if not hits:
        raise RouteStoreError(f"no AIRoute named {ref!r}" + (f" in namespace {ns!r}" if ns else ""))
    if len(hits) > 1:
        where = ", ".join(f"{h['metadata']['namespace']}/{name}" for h in hits)
        raise RouteStoreError(f"{ref!r} is ambiguous ({where}): say NAMESPACE/NAME or -n NAMESPACE")
    return hits[0]


class KubectlRoutes:
    """AIRoutes in the cluster of kubectl's current context, in one namespace unless ``all_namespaces``.

    The namespace is ``namespace`` or, like kubectl, the one of the kubeconfig's context: a team
    with rights in its own namespace only never needs cluster-wide rights (``-A`` asks for them).
    """

    def __init__(
        self,
        kubeconfig: str | None = None,
        context: str | None = None,
        namespace: str | None = None,
        all_namespaces: bool = False,
    ) -> None:
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            raise RouteStoreError(
                "kubectl is not on PATH: install it, or use --routes-dir with a folder of AIRoute files"
            )
        self._base = [kubectl]
        if kubeconfig:
            self._base += ["--kubeconfig", kubeconfig]
        if context:
            self._base += ["--context", context]
        self._scope = ["-A"] if all_namespaces else ["-n", namespace] if namespace else []

    def _run(self, *args: str) -> str:
        done = subprocess.run([*self._base, *args], capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            why = " ".join(done.stderr.split()) or "failed"
            if "-A" in args and "forbidden" in why.lower():
                why += " (listing every namespace needs cluster-wide rights: drop -A, or say -n NAMESPACE)"
            raise RouteStoreError(f"kubectl {' '.join(args[:3])}: {why}")
        return done.stdout

    def routes(self) -> list[dict[str, Any]]:
        listed = self._run("get", "airoutes.airoute.dev", *self._scope, "-o", "json")
        items: list[dict[str, Any]] = json.loads(listed)["items"]
        return items

    def annotate(self, namespace: str, name: str, key: str, value: str | None) -> None:
        setting = f"{key}-" if value is None else f"{key}={value}"
        self._run("annotate", "--overwrite", "-n", namespace, "airoutes.airoute.dev", name, setting)

    def events(self, namespace: str, name: str) -> list[dict[str, Any]]:
        selector = f"involvedObject.name={name},involvedObject.kind=AIRoute"
        items: list[dict[str, Any]] = json.loads(
            self._run("get", "events", "-n", namespace, "--field-selector", selector, "-o", "json")
        )["items"]
        return sorted(items, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")


class FolderRouteStore:
    """AIRoutes in a folder (``airoute controller --routes-dir``): annotations are written into the files.

    Every route in the folder, or only those of ``namespace`` when one is given.
    """

    def __init__(self, folder: Path, namespace: str | None = None) -> None:
        if not folder.is_dir():
            raise RouteStoreError(f"{folder}: not a folder")
        self._routes = FolderRoutes(folder)
        self._namespace = namespace

    def routes(self) -> list[dict[str, Any]]:
        found = [dict(r.obj) for r in self._routes.load() if r.obj is not None]
        if self._namespace is None:
            return found
        return [o for o in found if o.get("metadata", {}).get("namespace", "default") == self._namespace]

    def annotate(self, namespace: str, name: str, key: str, value: str | None) -> None:
        for loaded in self._routes.load():
            meta = (loaded.obj or {}).get("metadata", {})
            if meta.get("name") == name and meta.get("namespace", "default") == namespace:
                docs = list(yaml.safe_load_all(loaded.source.read_text()))
                doc = docs[loaded.index] if loaded.item is None else docs[loaded.index]["items"][loaded.item]
                target = doc["metadata"].setdefault("annotations", {})
                if value is None:
                    target.pop(key, None)
                else:
                    target[key] = value
                loaded.source.write_text(yaml.safe_dump_all([d for d in docs if d is not None], sort_keys=False))
                return
        raise RouteStoreError(f"no AIRoute {namespace}/{name} in {self._routes.folder}")

    def events(self, namespace: str, name: str) -> list[dict[str, Any]]:
        return []  # the folder controller logs its events; there is no Event store without a cluster
