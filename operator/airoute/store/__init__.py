"""Where AIRoutes live without a cluster: a folder of YAML files, status written beside them."""

from airoute.store.folder import (
    FolderContents,
    FolderRoutes,
    LoadedRoute,
    ParsedFiles,
    fingerprint,
    read_folder,
    status_path,
    unreadable,
)

__all__ = [
    "FolderContents",
    "FolderRoutes",
    "LoadedRoute",
    "ParsedFiles",
    "fingerprint",
    "read_folder",
    "status_path",
    "unreadable",
]
