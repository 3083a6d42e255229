"""Faults on real parts: the gateway (in this process, or as an ``airoute gateway`` process whose memory
is measured), the emulators with their run-time fault injection, and small misbehaving servers.

``gateway_env`` and ``gateway_process`` come from ``tests/integration/conftest.py``, their helpers
from ``tests/support/gateway.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from airoute.emulators import OpenAICompatibleEmulator


@pytest.fixture
async def emulators() -> AsyncIterator[list[OpenAICompatibleEmulator]]:
    """Two OpenAI-compatible emulators, stopped after the test."""
    emus = [OpenAICompatibleEmulator(seed=i) for i in range(2)]
    for emu in emus:
        await emu.start()
    yield emus
    for emu in emus:
        await emu.stop()
