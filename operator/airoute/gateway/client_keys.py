"""Client API keys: ``name: key`` pairs from a file or a Kubernetes Secret, kept current in a
:class:`Keyring` (the file is polled, the Secret watched; a change that cannot be used keeps the
previous keys).

A key is presented as ``Authorization: Bearer <key>`` (what OpenAI SDKs send) or ``api-key``
(Azure style). Lookup goes through a SHA-256 digest of the presented key, so the dictionary
lookup's timing depends only on a hash, and the final comparison is ``hmac.compare_digest``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from airoute.api.objects import object_key, secret_data, split_key
from airoute.kube import KubeClient, Reflector, Store, secrets_path
from airoute.store import unreadable

log = logging.getLogger(__name__)


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
    keys = {name: value.decode().strip() for name, value in secret_data(secret).items()}
    return keys_from_mapping(keys, f"Secret {object_key(secret)}")


class Keyring:
    """The client keys in force (``None`` until loaded); ``required`` is False only with
    ``--no-auth``. Replaced as a whole, so a request sees the old keys or the new ones."""

    def __init__(self, required: bool = True) -> None:
        self.required = required
        self.keys: ClientKeys | None = None
        self._seen: tuple[int, int] | None = None

    def load_file(self, path: str) -> None:
        """Loads the key file; raises :class:`KeyFileError` (at start: an unusable file is fatal)."""
        self._seen = _stamp(path)  # before reading: a change while reading is seen by the next poll
        self.keys = load_key_file(path)

    async def poll_file(self, path: str, interval: float) -> None:
        """Reloads the key file whenever it changed since it was last read, until cancelled."""
        while True:
            await asyncio.sleep(interval)
            stamp = _stamp(path)
            if stamp == self._seen:
                continue
            self._seen = stamp
            try:
                self.keys = await asyncio.to_thread(load_key_file, path)
                log.info("client keys reloaded from %s: %d client(s)", path, len(self.keys))
            except KeyFileError as exc:
                log.error("client key file unusable, keeping the previous keys: %s", exc)

    async def watch_secret(self, client: KubeClient, ref: str) -> None:
        """Follows the Secret ``namespace/name``: requests are refused while it is missing."""
        namespace, name = split_key(ref)

        def changed(store: Store) -> None:
            self._from_secret(ref, store.get(ref))

        params = {"fieldSelector": f"metadata.name={name}"}
        await Reflector(client, secrets_path(namespace), changed, params=params).run()

    def _from_secret(self, ref: str, secret: Mapping[str, Any] | None) -> None:
        if secret is None:
            log.error("client key Secret %s not found; requests are refused until it exists", ref)
            self.keys = None
            return
        try:
            self.keys = keys_from_secret(secret)
            log.info("client keys loaded: %d client(s)", len(self.keys))
        except (KeyFileError, ValueError) as exc:
            log.error("client key Secret unusable, keeping the previous keys: %s", exc)


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size
