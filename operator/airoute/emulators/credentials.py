"""Credentials the emulators accept: a real Google service-account key for the Vertex AI
emulator's token endpoint (the SDK signs a JWT with it and exchanges it, as against Google)."""

from __future__ import annotations

import json


def service_account_key(
    token_uri: str,
    project: str = "acme-prod",
    client_email: str = "airoute@acme-prod.iam.gserviceaccount.com",
    private_key_id: str = "0123abcd",
) -> str:
    """A service-account key JSON with a fresh RSA key, whose tokens come from ``token_uri``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": project,
            "private_key_id": private_key_id,
            "private_key": pem,
            "client_email": client_email,
            "client_id": "1",
            "token_uri": token_uri,
        }
    )
