"""Local servers that speak each AI provider's real HTTP API, with fault injection.

Used by the tests, the demo and the benchmarks. Each emulator: ``await start(host, port) ->
base_url``, ``await stop()``, ``async with``; ``.faults`` (a :class:`FaultController`) and
``.stats`` (a :class:`Stats`), also reachable over HTTP under ``/_emulator/``.
"""

from airoute.emulators.azure_openai import AzureOpenAIEmulator
from airoute.emulators.bedrock import BedrockEmulator
from airoute.emulators.eventstream import encode_frame, event_frame, exception_frame
from airoute.emulators.faults import Decision, FaultController, Faults
from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from airoute.emulators.runner import EmulatorPorts, Emulators, run_emulators, serve_emulators
from airoute.emulators.server import EmulatorServer
from airoute.emulators.stats import RequestRecord, Stats
from airoute.emulators.vertex_ai import VertexAIEmulator

__all__ = [
    "AzureOpenAIEmulator", "BedrockEmulator", "Decision", "EmulatorPorts", "EmulatorServer",
    "Emulators", "FaultController", "Faults", "OpenAICompatibleEmulator", "RequestRecord", "Stats",
    "VertexAIEmulator", "encode_frame", "event_frame", "exception_frame", "run_emulators",
    "serve_emulators",
]
