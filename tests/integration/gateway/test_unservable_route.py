"""A route the gateway cannot serve answers 503 naming the route, not 404 "no such model"
(issue 18.3); a key that may not use the route still learns nothing of it (issue 14.7). The
OpenAI SDK is the client: it must see an APIStatusError 503, not NotFoundError."""

from __future__ import annotations

import json

import openai
import pytest

from tests.support.gateway import CLIENT_KEYS, EnvFactory, metric, route
from tests.support.routes import emulated


async def test_a_route_whose_secret_is_missing_answers_503_naming_it(gateway_env: EnvFactory) -> None:
    env = await gateway_env(1, lambda e: [
        route([emulated("a", 100, e[0], secret="missing-creds")], allowedClients=["support-bot"]),
    ], auth=True)
    client = openai.AsyncOpenAI(base_url=f"{env.url}/v1", api_key=CLIENT_KEYS["support-bot"], max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 503 and not isinstance(caught.value, openai.NotFoundError)
    error = json.loads(caught.value.response.text)["error"]
    assert error["code"] == "route_unavailable" and "AIRoute team/chat" in error["message"]
    assert "missing-creds" not in error["message"], "the client is not told about the route's Secrets"
    text = await env.metrics()
    assert metric(text, "airoute_gateway_route_unservable", namespace="team", route="chat", backend="a",
                  reason="SecretNotFound") == 1
    assert metric(text, "airoute_requests_total", route="chat", backend="", outcome="error") == 1
    # A key the route does not allow: exactly the answer for a model that does not exist.
    status, _, body = await env.chat(key=CLIENT_KEYS["marketing"])
    assert status == 404 and json.loads(body)["error"]["code"] == "model_not_found"
    await client.close()
