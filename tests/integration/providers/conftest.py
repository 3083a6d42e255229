"""Every backend kind against its emulator, through its caller (and, for the clouds, the real SDK)
over HTTP (no mocks).

``backend`` is parametrized over the five provider kinds; each test gets a fresh emulator on a
free loopback port and a caller built by ``make_caller`` from a real provider block.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from tests.support.provider_backends import KINDS, Backend, build_backend


@pytest.fixture(autouse=True)
def _isolated_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest_asyncio.fixture(params=KINDS)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    built = await build_backend(request.param)
    try:
        yield built
    finally:
        await built.aclose()
        await built.emulator.stop()
