"""Attack (issue 14.3, the input half): CR, LF or NUL in a route's header values, ``organization``
or ``project`` would end the header and smuggle headers, or a whole second request, into the
upstream connection (which is pooled, so another tenant could read the smuggled request's answer).

The API server refuses such a route (``tests/integration/crdcel/invalid/header-injection.yaml``),
``airoute validate`` too (``tests/unit/commands``). Here a real ``airoute gateway`` process reads
the route from a folder, where no API server stands in front of it: the route is refused with a
message naming the field, nothing reaches the upstream, and the other routes keep working.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from tests.support.fakes import eventually
from tests.support.gateway import GatewayFactory, chat_body, route
from tests.support.routes import emulated, yaml_text

SMUGGLED = "\r\n\r\nPOST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}"
INJECTIONS: dict[str, dict[str, Any]] = {
    "organization": {"organization": "org-1" + SMUGGLED},
    "project": {"project": "proj\x00"},
    "headers[0].value": {"headers": [{"name": "x-team", "value": "a" + SMUGGLED}]},
}


@pytest.mark.parametrize("field", sorted(INJECTIONS))
async def test_a_route_that_would_smuggle_headers_is_refused_naming_the_field(
    field: str, tmp_path: Path, gateway_process: GatewayFactory
) -> None:
    upstream = OpenAICompatibleEmulator()
    await upstream.start()
    try:
        folder = tmp_path / "routes"
        folder.mkdir()
        hostile = emulated("a", 100, upstream)
        hostile["openAICompatible"].update(INJECTIONS[field])
        (folder / "routes.yaml").write_text(yaml_text([
            route([hostile], name="hostile"), route([emulated("a", 100, upstream)], name="honest"),
        ]))
        gateway = await gateway_process(folder, "--no-auth")
        async with aiohttp.ClientSession() as session:
            for model, status in (("hostile", 404), ("honest", 200)):
                async with session.post(f"{gateway.url}/v1/chat/completions", json=chat_body(model)) as r:
                    assert r.status == status, (model, await r.text())
        assert upstream.stats.total == 1, upstream.stats.snapshot()
        expected = f"spec.backends[0].openAICompatible.{field}: must not contain control characters"
        await eventually(lambda: expected in gateway.logs(), what=f"a log line naming {field}")
        assert SMUGGLED.strip() not in gateway.logs()
    finally:
        await upstream.stop()
