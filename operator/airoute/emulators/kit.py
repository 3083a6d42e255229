"""Ready-made credentials and a sample AIRoute for the four emulators: what a person needs to try
airoute against a cluster from a laptop (docs/operations/from-a-laptop.md), and what the demo uses.

``python -m airoute.emulators --out DIR`` starts the emulators on fixed ports and writes
``DIR/secrets.yaml`` (an Azure API key, AWS keys, a Google service-account key whose tokens come
from the Vertex AI emulator's ``/token``) and ``DIR/route.yaml`` (a route over all four).
"""

from __future__ import annotations

import argparse
import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from airoute.api.objects import CREDENTIALS_LABEL
from airoute.emulators.credentials import service_account_key

AZURE_KEY = "demo-azure-key-0123456789abcdef"
AWS_KEY_ID, AWS_SECRET = "AKIADEMO000000000001", "demo/aws/secret/0123456789abcdefghij"
VERTEX_PROJECT = "acme-support"
VERTEX_ACCOUNT = "airoute-demo@acme-support.iam.gserviceaccount.com"
BEDROCK_MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
PORTS = {"azure": 18001, "bedrock": 18002, "vertex": 18003, "openai": 18004}


def _secret(name: str, namespace: str, data: Mapping[str, str]) -> dict[str, Any]:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    meta = {"name": name, "namespace": namespace, "labels": {CREDENTIALS_LABEL: "true"}}  # a route credential
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": encoded}


def credential_secrets(namespace: str, vertex_url: str) -> list[dict[str, Any]]:
    """The Secrets ``azure-eu``, ``aws-eu`` and ``gcp-sa`` the emulators accept (the Google key is
    fresh, its tokens minted by the Vertex AI emulator at ``vertex_url``)."""
    return [
        _secret("azure-eu", namespace, {"api-key": AZURE_KEY}),
        _secret("aws-eu", namespace, {"aws_access_key_id": AWS_KEY_ID, "aws_secret_access_key": AWS_SECRET}),
        _secret("gcp-sa", namespace, {"key.json": service_account_key(f"{vertex_url}/token", VERTEX_PROJECT,
                                                                       VERTEX_ACCOUNT)}),
    ]


def sample_route(urls: Mapping[str, str], namespace: str, name: str = "support-chat") -> dict[str, Any]:
    """A critical route over the Azure, Bedrock and Vertex AI emulators, the OpenAI-compatible one
    as an in-cluster standby (``vllm-llama.models``: give the gateway ``--service-host``)."""
    azure = {"endpoint": urls["azure"], "deployment": "gpt-4o", "region": "westeurope", "insecure": True,
             "credentialsSecretRef": {"name": "azure-eu"}}  # fmt: skip
    bedrock = {"region": "eu-central-1", "modelId": BEDROCK_MODEL, "endpointURL": urls["bedrock"], "insecure": True,
               "credentialsSecretRef": {"name": "aws-eu"}}  # fmt: skip
    vertex = {"project": VERTEX_PROJECT, "location": "europe-west4", "model": "gemini-1.5-pro-002",
              "endpointURL": urls["vertex"], "insecure": True, "credentialsSecretRef": {"name": "gcp-sa"}}  # fmt: skip
    local = {"service": {"name": "vllm-llama", "namespace": "models", "port": 8000},
             "model": "meta-llama/Llama-3.1-8B-Instruct"}  # fmt: skip
    return {
        "apiVersion": "airoute.dev/v1alpha1",
        "kind": "AIRoute",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "model": name,
            "tier": "critical",
            "backends": [
                {"name": "azure-eu", "weight": 50, "azureOpenAI": azure},
                {"name": "bedrock-eu", "weight": 30, "bedrock": bedrock},
                {"name": "vertex-eu", "weight": 20, "vertexAI": vertex},
                {"name": "local-llama", "weight": 0, "inCluster": local},
            ],
            "degradedResponse": "Our assistant is briefly unavailable; a person will answer you shortly.",
        },
    }


def write_kit(folder: Path, urls: Mapping[str, str], namespace: str) -> list[Path]:
    """Writes ``secrets.yaml`` and ``route.yaml`` for the emulators at ``urls``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    secrets, route = folder / "secrets.yaml", folder / "route.yaml"
    secrets.write_text(yaml.safe_dump_all(credential_secrets(namespace, urls["vertex"]), sort_keys=False))
    route.write_text(yaml.safe_dump(sample_route(urls, namespace), sort_keys=False))
    return [secrets, route]


def main(argv: list[str] | None = None) -> None:
    from airoute.emulators.runner import run_emulators

    p = argparse.ArgumentParser(prog="python -m airoute.emulators", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("emulator-kit"), help="folder for secrets.yaml and route.yaml")
    p.add_argument("--namespace", default="support", help="namespace of the Secrets and the route (default support)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    for name, port in PORTS.items():
        p.add_argument(f"--{name}-port", type=int, default=port, help=f"default {port}")
    args = p.parse_args(argv)

    def ready(urls: dict[str, str]) -> None:
        written = write_kit(args.out, urls, args.namespace)
        for name, url in urls.items():
            print(f"{name}: {url}", flush=True)
        print(f"wrote {', '.join(map(str, written))}; serving until interrupted", flush=True)

    run_emulators(args.azure_port, args.bedrock_port, args.vertex_port, args.openai_port, args.host, ready=ready)
