"""A small async Kubernetes client: kubeconfig / in-cluster config, get, list, watch, reflectors."""

from airoute.kube.client import Gone, KubeClient, KubeError, KubeObject
from airoute.kube.config import KubeConfig, KubeConfigError, in_cluster, load_config, load_kubeconfig
from airoute.kube.reflector import Reflector, Store, object_key

__all__ = [
    "Gone",
    "KubeClient",
    "KubeConfig",
    "KubeConfigError",
    "KubeError",
    "KubeObject",
    "Reflector",
    "Store",
    "in_cluster",
    "load_config",
    "load_kubeconfig",
    "object_key",
]
