"""Malformed and hostile client requests to the real gateway, while well-behaved clients keep working.

Every bad request gets a clear 4xx in OpenAI's error JSON — never a 5xx, never a hang — and the
good clients running at the same time all get their answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.fakes import eventually
from tests.support.gateway import CLIENT_KEYS, Env, EnvFactory, chat_body, complete, metric, post, route
from tests.support.routes import emulated
from tests.support.strategies import fuzz, junk

KEY = CLIENT_KEYS["support-bot"]
AUTH = f"authorization: Bearer {KEY}\r\n".encode()


def two_backends(e: list[Any]) -> list[dict[str, Any]]:
    return [route([emulated("a", 50, e[0]), emulated("b", 50, e[1])])]


def request(body: bytes | str, head: bytes = AUTH, path: bytes = b"/v1/chat/completions") -> bytes:
    data = body.encode() if isinstance(body, str) else body
    return (b"POST %s HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n%scontent-length: %d\r\n\r\n%s"
            % (path, head, len(data), data))


DEEP = "[" * 50_000 + "]" * 50_000
CHUNKED = b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n" + AUTH + b"transfer-encoding: chunked\r\n\r\n"
MESSAGES = '"messages": [{"role": "user", "content": "hi"}]'
# name: (raw bytes sent, the status expected)
CASES: dict[str, tuple[bytes, int]] = {
    "broken JSON": (request('{"model": "chat", "messages": ['), 400),
    "broken JSON, no model": (request('{"mod'), 400),
    "a JSON array": (request("[1, 2, 3]"), 400),
    "model is a number": (request('{"model": 5, ' + MESSAGES + "}"), 400),
    "model is a list": (request('{"model": ["chat"], ' + MESSAGES + "}"), 400),
    "unknown model": (request('{"model": "no-such-model", ' + MESSAGES + "}"), 404),
    "missing messages": (request('{"model": "chat"}'), 400),
    "messages is a string": (request('{"model": "chat", "messages": "hi"}'), 400),
    "stream is a string": (request('{"model": "chat", "stream": "yes", ' + MESSAGES + "}"), 400),
    "not UTF-8": (request(b'{"model": "ch\xffat", "messages": []}'), 400),
    "nested 50,000 deep": (request('{"model": "chat", "messages": ' + DEEP + "}"), 400),
    "nested deep, two model keys": (request('{"model": "chat", "model": "chat", "messages": ' + DEEP + "}"), 400),
    "a 5000-digit number": (request('{"model": "chat", "max_tokens": ' + "9" * 5000 + ", " + MESSAGES + "}"), 400),
    "empty body": (request(""), 400),
    "no API key": (request('{"model": "chat", ' + MESSAGES + "}", head=b""), 401),
    "wrong API key": (request('{"model": "chat", ' + MESSAGES + "}", head=b"authorization: Bearer sk-wrong\r\n"), 401),
    "bad timeout header": (request('{"model": "chat", ' + MESSAGES + "}", head=AUTH + b"x-airoute-timeout: soon\r\n"),
                           400),
    "GET on chat": (b"GET /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n" + AUTH + b"\r\n", 405),
    "unknown path": (request("{}", path=b"/v1/audio/speech"), 404),
    "content-length not a number": (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-length: ten\r\n\r\n",
                                    400),
    "negative content-length": (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-length: -1\r\n\r\n", 400),
    "body over the limit": (request(b"x" * (300 * 1024)), 413),
    "chunked body over the limit": (CHUNKED + (b"10000\r\n" + b"x" * 0x10000 + b"\r\n") * 5 + b"0\r\n\r\n", 413),
    "no API key, a body over the limit (refused before it is read)": (request(b"x" * (300 * 1024), head=b""), 401),
    "not HTTP (a TLS hello)": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64 + b"\r\n\r\n", 400),
    "HTTP/2 preface": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
    "a 200 KB URL": (b"GET /" + b"a" * 200_000 + b" HTTP/1.1\r\nhost: gw\r\n\r\n", 431),
    "a 1 MB header": (b"GET /healthz HTTP/1.1\r\nhost: gw\r\nx-big: " + b"a" * 1_000_000 + b"\r\n\r\n", 431),
    "20,000 headers": (b"GET /healthz HTTP/1.1\r\n" + b"".join(b"x-h%d: v\r\n" % i for i in range(20_000)) + b"\r\n",
                       431),
}


async def exchange(port: int, data: bytes, within: float = 10.0) -> tuple[int, bytes]:
    """Sends raw bytes, reads until the server closes or one response is in; (status, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), within)
        status = int(head.split(b" ", 2)[1])
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        body = await asyncio.wait_for(reader.readexactly(length), within)
        return status, body
    finally:
        writer.close()


def openai_error(body: bytes) -> dict[str, Any]:
    error = json.loads(body)["error"]
    assert isinstance(error["message"], str) and error["message"], body[:200]
    assert isinstance(error["type"], str) and error["type"]
    assert set(error) == {"message", "type", "param", "code"}
    return error  # type: ignore[no-any-return]


async def good_clients(env: Env, stop: asyncio.Event, count: int = 8) -> list[tuple[int, float]]:
    """Well-behaved clients asking until ``stop``: (status, seconds) of every request."""
    results: list[tuple[int, float]] = []

    async def client(i: int) -> None:
        while not stop.is_set():
            started = time.monotonic()
            status, body = await post(env.session, env.url, chat_body(stream=i % 2 == 1), stream=i % 2 == 1, key=KEY)
            results.append((status if complete(status, body, i % 2 == 1) else -status, time.monotonic() - started))

    await asyncio.gather(*(client(i) for i in range(count)))
    return results


async def test_malformed_requests_get_a_clear_4xx_while_good_clients_are_served(gateway_env: EnvFactory) -> None:
    env = await gateway_env(2, two_backends, auth=True, max_body_bytes=256 * 1024)
    stop = asyncio.Event()
    good = asyncio.create_task(good_clients(env, stop))
    names = [name for name in CASES for _ in range(3)]
    answers = await asyncio.gather(*(exchange(env.gateway.port, CASES[name][0]) for name in names))
    await asyncio.sleep(0.5)  # the good clients keep going a little longer
    stop.set()
    for name, (status, body) in zip(names, answers, strict=True):
        assert status == CASES[name][1], f"{name}: got {status} {body[:200]!r}"
        openai_error(body)
    served = await good
    assert len(served) >= 20 and {s for s, _ in served} == {200}
    text = await env.metrics()
    assert metric(text, "airoute_ejections_total") == 0, "bad requests must not eject a backend"


bodies = st.one_of(
    st.binary(max_size=2000),
    st.builds(lambda v: json.dumps(v, allow_nan=True).encode(), junk),
    st.builds(
        lambda model, messages, stream, extra: json.dumps(
            {"model": model, "messages": messages, **({"stream": stream} if stream is not None else {}), **extra},
            allow_nan=True).encode(),
        st.one_of(st.just("chat"), junk), junk, st.none() | junk,
        st.dictionaries(st.text(max_size=12), junk, max_size=4),
    ),
    st.builds(lambda content: json.dumps(chat_body(content=content)).encode(), st.text(max_size=500)),
)


async def test_generated_bodies_never_get_a_5xx_nor_eject_a_backend(gateway_env: EnvFactory) -> None:
    env = await gateway_env(2, two_backends)
    loop = asyncio.get_running_loop()

    async def send(body: bytes) -> tuple[int, bytes]:
        async with env.session.post(f"{env.url}/v1/chat/completions", data=body,
                                    headers={"content-type": "application/json"}) as r:
            return r.status, await r.read()

    sent: list[int] = []

    @fuzz(250)
    @given(body=bodies)
    def check(body: bytes) -> None:  # hypothesis drives from a thread; requests go through this test's loop
        status, answer = asyncio.run_coroutine_threadsafe(send(body), loop).result(30)
        sent.append(status)
        assert status == 200 or 400 <= status < 500, f"{status}: {answer[:300]!r}"
        if status != 200:
            openai_error(answer)

    await asyncio.to_thread(check)
    print(f"{len(sent)} generated request bodies: " + ", ".join(
        f"{sent.count(s)} got {s}" for s in sorted(set(sent))))
    text = await env.metrics()
    assert metric(text, "airoute_ejections_total") == 0, "a client's bad request is never the backend's failure"
    assert metric(text, "airoute_requests_total", outcome="error") == 0
    assert (await env.chat())[0] == 200


async def slow_sender(port: int, data: bytes, every: float) -> tuple[float, bytes]:
    """Sends ``data`` one byte at a time; returns when the server ends the connection: (seconds, what it said)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()

    async def trickle() -> None:
        for i in range(len(data)):
            writer.write(data[i:i + 1])
            await writer.drain()
            await asyncio.sleep(every)

    sending = asyncio.create_task(trickle())
    try:
        answer = await asyncio.wait_for(reader.read(), 15)
    finally:
        sending.cancel()
        writer.close()
    return time.monotonic() - started, answer


async def test_slow_clients_are_cut_off_with_408_and_never_hold_up_others(gateway_env: EnvFactory) -> None:
    env = await gateway_env(2, two_backends, auth=True, idle_timeout=1.0)
    body = json.dumps(chat_body()).encode()
    slow_head = request(body)  # byte by byte: the head never completes in time
    fast_head_slow_body = request(body)
    stop = asyncio.Event()
    good = asyncio.create_task(good_clients(env, stop))
    slow = [slow_sender(env.gateway.port, slow_head, 0.05) for _ in range(40)]
    slow += [slow_sender(env.gateway.port, fast_head_slow_body, 0.05) for _ in range(10)]
    cut = await asyncio.gather(*slow)
    stop.set()
    served = await good
    for seconds, answer in cut:
        assert 0.9 <= seconds <= 3.0, seconds  # cut off after idle_timeout, not left to linger
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:100]
        openai_error(answer.partition(b"\r\n\r\n")[2])
    assert len(served) >= 20 and {s for s, _ in served} == {200}
    assert max(t for _, t in served) < 1.0, "good clients must not wait behind slow ones"
    await asyncio.sleep(0.1)
    assert len(env.gateway.http.connections) <= 9  # only the good clients' keep-alive connections remain


async def test_an_abandoned_stream_frees_its_slot(gateway_env: EnvFactory) -> None:
    """A client that starts a stream and goes away: the request ends, admission and upstream are freed."""
    env = await gateway_env(2, two_backends, auth=True)
    await env.emulators[0].set_faults(chunk_delay=0.2)
    await env.emulators[1].set_faults(chunk_delay=0.2)
    for _ in range(20):
        reader, writer = await asyncio.open_connection("127.0.0.1", env.gateway.port)
        writer.write(request(json.dumps(chat_body(stream=True))))
        await reader.readuntil(b"data: ")
        writer.close()

    async def released() -> bool:
        return env.gateway.admission.in_flight == 0

    await eventually(released, within=10)
    async with aiohttp.ClientSession() as session:
        status, _ = await post(session, env.url, chat_body(), key=KEY)
    assert status == 200


async def test_a_body_far_over_the_limit_arriving_at_once_gets_one_clear_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The body passes 4x the limit and ends within one read: one 413, then the connection closes."""
    from airoute.gateway.http_server import HttpServer, Limits, Reply, Request

    async def handler(request: Request, reply: Reply) -> None:
        reply.send(200, b"{}")

    server = HttpServer(handler, Limits(max_body=1024, idle_timeout=5))
    port = await server.listen("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(CHUNKED + b"2000\r\n" + b"x" * 0x2000 + b"\r\n0\r\n\r\n" + request(b"{}"))
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    finally:
        await server.drain(1)
    assert answer.count(b"HTTP/1.1 ") == 1 and answer.startswith(b"HTTP/1.1 413 ")
    openai_error(answer.partition(b"\r\n\r\n")[2])
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
