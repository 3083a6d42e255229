"""Security checks on real parts; the gateway fixtures come from ``tests/integration/faults/conftest.py``."""

from __future__ import annotations

from ..faults.conftest import gateway_process  # noqa: F401  (a fixture used by the tests here)
