"""Where AIRoutes live without a cluster: a folder of YAML files, status written beside them."""

from airoute.store.folder import FolderRoutes, LoadedRoute, status_path, unreadable

__all__ = ["FolderRoutes", "LoadedRoute", "status_path", "unreadable"]
