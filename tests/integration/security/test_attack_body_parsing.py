"""Attack (issue 14.8): a body the gateway reads one way and the upstream another.

A client routes on a cheap model and smuggles a second ``model`` key, spelled with JSON escapes,
that the upstream's parser (last key wins) takes instead: the route's credentials then pay for a
model the route never offered. Against a real ``airoute gateway`` process and an emulator whose
parser is Python's ``json`` (last key wins, as the providers' are): whatever the gateway answers
200 to, the upstream must have received the model the route sends; everything else is a 400.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from tests.support.gateway import GatewayFactory, route
from tests.support.routes import emulated, yaml_text

MESSAGES = '"messages":[{"role":"user","content":"hi"}]'
SMUGGLED = "gpt-4-32k"
_ATTACKS = {
    "escaped duplicate key": r'{"model":"cheap","\u006dodel":"SMUGGLED",MESSAGES}',
    "escaped duplicate key, upper-case hex": r'{"model":"cheap","mo\u0044el":"x","m\u006Fdel":"SMUGGLED",MESSAGES}',
    "plain duplicate key": '{"model":"cheap","model":"SMUGGLED",MESSAGES}',
    "escaped top-level key, plain nested one": r'{"\u006dodel":"SMUGGLED","metadata":{"model":"cheap"},MESSAGES}',
    "escaped duplicate stream": r'{"model":"cheap","stream":false,"\u0073tream":true,MESSAGES}',
}
ATTACKS = {name: body.replace("SMUGGLED", SMUGGLED).replace("MESSAGES", MESSAGES) for name, body in _ATTACKS.items()}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_the_upstream_gets_the_model_the_gateway_routed_on(
    attack: str, tmp_path: Path, gateway_process: GatewayFactory
) -> None:
    upstream = OpenAICompatibleEmulator()
    await upstream.start()
    try:
        folder = tmp_path / "routes"
        folder.mkdir()
        (folder / "cheap.yaml").write_text(yaml_text([route([emulated("a", 100, upstream, model="cheap-8b")],
                                                            name="cheap")]))
        gateway = await gateway_process(folder, "--no-auth")
        async with aiohttp.ClientSession() as session, session.post(
            f"{gateway.url}/v1/chat/completions", data=ATTACKS[attack].encode(),
            headers={"content-type": "application/json"},
        ) as r:
            status, answer = r.status, await r.read()
        received = {(rec.model, rec.streamed) for rec in upstream.stats.counter}
        if status == 200:
            assert received == {("cheap-8b", answer.startswith(b"data:"))}, (attack, received)
            return
        assert received == set(), (attack, status, received)
        error = json.loads(answer)["error"]
        if "nested" in attack:  # one top-level model, the smuggled one: routed on it, and there is no such route
            assert status == 404 and SMUGGLED in error["message"], error
        else:
            assert status == 400 and "more than once" in error["message"], error
    finally:
        await upstream.stop()
