"""Reading kubeconfig files and the in-cluster ServiceAccount."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from airoute.kube import KubeConfigError, in_cluster, load_kubeconfig


def kubeconfig(tmp_path: Path, user: dict[str, object], cluster: dict[str, object] | None = None) -> Path:
    doc = {
        "apiVersion": "v1", "kind": "Config", "current-context": "ctx",
        "clusters": [{"name": "c", "cluster": cluster or {"server": "https://127.0.0.1:6443/"}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "airoute"}}],
    }
    path = tmp_path / "config"
    path.write_text(json.dumps(doc))
    return path


def test_token_user(tmp_path: Path) -> None:
    cfg = load_kubeconfig(kubeconfig(tmp_path, {"token": "abc"}))
    assert (cfg.server, cfg.namespace, cfg.bearer_token()) == ("https://127.0.0.1:6443", "airoute", "abc")


def test_token_file_is_reread(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("one\n")
    cfg = load_kubeconfig(kubeconfig(tmp_path, {"tokenFile": str(token)}))
    assert cfg.bearer_token() == "one"
    token.write_text("two")
    assert cfg.bearer_token() == "two"


def test_client_certificate_data_and_ca_file(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(b"CA")
    cfg = load_kubeconfig(kubeconfig(
        tmp_path,
        {"client-certificate-data": base64.b64encode(b"CERT").decode(), "client-key": "key.pem"},
        {"server": "https://k", "certificate-authority": "ca.crt"},
    ) if (tmp_path / "key.pem").write_bytes(b"KEY") else tmp_path)
    assert (cfg.client_cert, cfg.client_key, cfg.ca_data) == (b"CERT", b"KEY", b"CA")


@pytest.mark.parametrize(
    ("user", "message"),
    [({"exec": {"command": "aws"}}, "exec or auth-provider"), ({"auth-provider": {"name": "gcp"}}, "exec")],
)
def test_plugins_are_refused_with_a_clear_message(tmp_path: Path, user: dict[str, object], message: str) -> None:
    with pytest.raises(KubeConfigError, match=message):
        load_kubeconfig(kubeconfig(tmp_path, user))


def test_unknown_context(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match="no context named 'other'"):
        load_kubeconfig(kubeconfig(tmp_path, {"token": "x"}), "other")


def test_in_cluster(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(b"CA")
    (tmp_path / "namespace").write_text("airoute-system\n")
    (tmp_path / "token").write_text("sa-token")
    cfg = in_cluster(tmp_path, {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"})
    assert (cfg.server, cfg.namespace, cfg.bearer_token()) == ("https://10.0.0.1:443", "airoute-system", "sa-token")
    with pytest.raises(KubeConfigError, match="not running in a cluster"):
        in_cluster(tmp_path, {})
