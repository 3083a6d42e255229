"""Helpers for the gateway unit tests: AIRoute documents as YAML text."""

from __future__ import annotations


def route_yaml(name: str = "chat", namespace: str = "team", model: str = "chat", weights: tuple[int, ...] = (50, 50),
               secret: str | None = None, extra: str = "") -> str:
    backends = []
    for i, weight in enumerate(weights):
        creds = f", credentialsSecretRef: {{name: {secret}}}" if secret and i == 0 else ""
        block = f"baseURL: 'http://127.0.0.1:{9000 + i}/v1', model: m{i}, insecure: true{creds}"
        backends.append(f"    - name: b{i}\n      weight: {weight}\n      openAICompatible: {{{block}}}\n")
    return (
        f"apiVersion: airoute.dev/v1alpha1\nkind: AIRoute\nmetadata: {{name: {name}, namespace: {namespace}}}\n"
        f"spec:\n  model: {model}\n  backends:\n{''.join(backends)}{extra}"
    )
