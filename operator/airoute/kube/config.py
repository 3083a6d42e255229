"""Where the Kubernetes API is and how to authenticate: a kubeconfig file or the in-cluster
ServiceAccount. Bearer tokens (inline or from a file, re-read as they rotate), client
certificates (files or inline data) and CA bundles are supported; exec and auth-provider
plugins are not (the message says so).
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class KubeConfigError(ValueError):
    """The kubeconfig cannot be used; the message says which part and why."""


@dataclass(frozen=True)
class KubeConfig:
    """How to reach one API server as one user."""

    server: str
    namespace: str = "default"
    ca_data: bytes | None = None
    insecure: bool = False
    token: str | None = None
    token_file: str | None = None
    client_cert: bytes | None = None
    client_key: bytes | None = None
    _token_cache: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def bearer_token(self) -> str | None:
        """The token to send; a token file is re-read (rotated ServiceAccount tokens)."""
        if self.token_file:
            try:
                text = Path(self.token_file).read_text().strip()
            except OSError:
                return self._token_cache.get("last")
            self._token_cache["last"] = text
            return text
        return self.token

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.server.startswith("https://"):
            return None
        ctx = ssl.create_default_context()
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif self.ca_data:
            ctx.load_verify_locations(cadata=self.ca_data.decode())
        if self.client_cert and self.client_key:
            with tempfile.TemporaryDirectory(prefix="airoute-kube-") as tmp:
                cert, key = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
                for path, data in ((cert, self.client_cert), (key, self.client_key)):
                    path.touch(mode=0o600)
                    path.write_bytes(data)
                ctx.load_cert_chain(str(cert), str(key))
        return ctx


def _named(entries: Any, name: str, what: str, source: str) -> dict[str, Any]:
    for entry in entries or ():
        if isinstance(entry, Mapping) and entry.get("name") == name:
            body = entry.get(what)
            if isinstance(body, Mapping):
                return dict(body)
    raise KubeConfigError(f"{source}: no {what} named {name!r}")


def _data(block: Mapping[str, Any], key: str, base: Path, source: str) -> bytes | None:
    inline = block.get(f"{key}-data")
    if inline:
        try:
            return base64.b64decode(inline)
        except ValueError as exc:
            raise KubeConfigError(f"{source}: {key}-data is not base64: {exc}") from exc
    path = block.get(key)
    if path:
        full = Path(path) if Path(path).is_absolute() else base / path
        try:
            return full.read_bytes()
        except OSError as exc:
            raise KubeConfigError(f"{source}: cannot read {key} {full}: {exc}") from exc
    return None


def load_kubeconfig(path: str | os.PathLike[str], context: str | None = None) -> KubeConfig:
    """The cluster and user of ``context`` (default: current-context) in a kubeconfig file."""
    source = str(path)
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise KubeConfigError(f"cannot read kubeconfig {source}: {exc}") from exc
    if not isinstance(doc, Mapping):
        raise KubeConfigError(f"{source}: not a kubeconfig (expected a mapping)")
    name = context or doc.get("current-context")
    if not name:
        raise KubeConfigError(f"{source}: no current-context and no context given")
    ctx = _named(doc.get("contexts"), name, "context", source)
    cluster = _named(doc.get("clusters"), ctx.get("cluster", ""), "cluster", source)
    user = _named(doc.get("users"), ctx.get("user", ""), "user", source) if ctx.get("user") else {}
    if "exec" in user or "auth-provider" in user:
        raise KubeConfigError(
            f"{source}: user {ctx.get('user')!r} uses an exec or auth-provider plugin, which airoute does not run; "
            "use a token (e.g. `kubectl create token`) or a client certificate"
        )
    base = Path(path).resolve().parent
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        raise KubeConfigError(f"{source}: cluster {ctx.get('cluster')!r} has no server")
    return KubeConfig(
        server=server.rstrip("/"),
        namespace=ctx.get("namespace") or "default",
        ca_data=_data(cluster, "certificate-authority", base, source),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        token=user.get("token"),
        token_file=user.get("tokenFile"),
        client_cert=_data(user, "client-certificate", base, source),
        client_key=_data(user, "client-key", base, source),
    )


def in_cluster(account: Path = SERVICE_ACCOUNT, env: Mapping[str, str] | None = None) -> KubeConfig:
    """The pod's ServiceAccount: token, CA and namespace from ``account``, API from the env."""
    env = os.environ if env is None else env
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise KubeConfigError("not running in a cluster: KUBERNETES_SERVICE_HOST is not set")
    host = f"[{host}]" if ":" in host else host
    try:
        ca = (account / "ca.crt").read_bytes()
        namespace = (account / "namespace").read_text().strip()
    except OSError as exc:
        raise KubeConfigError(f"cannot read the ServiceAccount at {account}: {exc}") from exc
    return KubeConfig(f"https://{host}:{port}", namespace, ca_data=ca, token_file=str(account / "token"))


def load_config(path: str | None = None, context: str | None = None) -> KubeConfig:
    """``path``, else ``$KUBECONFIG`` (its first file), else in-cluster, else ``~/.kube/config``."""
    if path:
        return load_kubeconfig(path, context)
    env = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    if env:
        return load_kubeconfig(env, context)
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return in_cluster()
    default = Path.home() / ".kube" / "config"
    if default.exists():
        return load_kubeconfig(default, context)
    raise KubeConfigError("no kubeconfig: pass one, set $KUBECONFIG, or run in a cluster")
