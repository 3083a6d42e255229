"""Client API keys: ``name: key`` pairs from a file or a Kubernetes Secret.

A key is presented as ``Authorization: Bearer <key>`` (what OpenAI SDKs send) or ``api-key``
(Azure style). Lookup goes through a SHA-256 digest of the presented key, so the dictionary
lookup's timing depends only on a hash, and the final comparison is ``hmac.compare_digest``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from pathlib import Path

import yaml

from airoute.store import unreadable


class KeyFileError(ValueError):
    """The client key file or Secret cannot be used."""


class ClientKeys:
    """The valid client keys and the client name of each."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        self._by_digest: dict[bytes, tuple[str, bytes]] = {}
        for name, key in keys.items():
            if not key:
                raise KeyFileError(f"client {name!r} has an empty key")
            raw = key.encode()
            self._by_digest[hashlib.sha256(raw).digest()] = (name, raw)
        self.names = frozenset(keys)

    def __len__(self) -> int:
        return len(self._by_digest)

    def identify(self, presented: str) -> str | None:
        """The client name of a presented key, or None."""
        raw = presented.encode()
        entry = self._by_digest.get(hashlib.sha256(raw).digest())
        if entry is None:
            return None
        name, key = entry
        return name if hmac.compare_digest(raw, key) else None


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key in ``Authorization: Bearer …`` or ``api-key``, if any."""
    auth = headers.get("authorization")
    if auth is not None:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    return headers.get("api-key") or None


def keys_from_mapping(data: object, source: str) -> ClientKeys:
    if not isinstance(data, Mapping) or not data:
        raise KeyFileError(f"{source}: expected a mapping of client name to API key")
    keys: dict[str, str] = {}
    for name, key in data.items():
        if not isinstance(name, str) or not isinstance(key, str):
            raise KeyFileError(f"{source}: client names and keys must be strings (entry {name!r})")
        keys[name] = key.strip()
    return ClientKeys(keys)


def load_key_file(path: str | Path) -> ClientKeys:
    """``name: key`` lines (YAML) from a file, e.g. a mounted Secret rendered as one file."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, ValueError, RecursionError, yaml.YAMLError) as exc:  # never quote the file: it holds keys
        raise KeyFileError(f"cannot read client keys from {path}: {unreadable(exc)}") from None
    return keys_from_mapping(data, str(path))


def keys_from_secret(secret: Mapping[str, object]) -> ClientKeys:
    """A Secret's ``data`` (base64) and ``stringData``: each key is a client name."""
    meta = secret.get("metadata")
    source = f"Secret {meta.get('namespace')}/{meta.get('name')}" if isinstance(meta, Mapping) else "Secret"
    keys: dict[str, str] = {}
    data = secret.get("data")
    if isinstance(data, Mapping):
        for name, value in data.items():
            keys[str(name)] = base64.b64decode(str(value)).decode().strip()
    string_data = secret.get("stringData")
    if isinstance(string_data, Mapping):
        keys.update({str(k): str(v).strip() for k, v in string_data.items()})
    return keys_from_mapping(keys, source)
