"""A small async Kubernetes client: kubeconfig / in-cluster config, get, list, watch, reflectors."""

from airoute.kube.client import Gone, KubeClient, KubeError, KubeObject
from airoute.kube.config import KubeConfig, KubeConfigError, in_cluster, load_config, load_kubeconfig
from airoute.kube.paths import airoutes_path, events_path, secrets_path
from airoute.kube.reflector import Delta, Reflector, Store

__all__ = [
    "Delta",
    "Gone",
    "KubeClient",
    "KubeConfig",
    "KubeConfigError",
    "KubeError",
    "KubeObject",
    "Reflector",
    "Store",
    "airoutes_path",
    "events_path",
    "in_cluster",
    "load_config",
    "load_kubeconfig",
    "secrets_path",
]
