"""Client API keys: lookup, headers, key files and Secrets."""

from __future__ import annotations

import asyncio
import base64
import logging
from pathlib import Path

import pytest

from airoute.gateway.client_keys import (
    ClientKeys,
    KeyFileError,
    Keyring,
    keys_from_secret,
    load_key_file,
    presented_key,
)
from tests.support.fakes import eventually


def test_identify_returns_the_client_name_of_a_valid_key_only() -> None:
    keys = ClientKeys({"support-bot": "sk-support", "marketing": "sk-marketing"})
    assert keys.identify("sk-support") == "support-bot"
    assert keys.identify("sk-marketing") == "marketing"
    assert keys.identify("sk-support ") is None
    assert keys.identify("") is None


@pytest.mark.parametrize(
    ("headers", "key"),
    [
        ({"authorization": "Bearer abc"}, "abc"),
        ({"authorization": "bearer  abc "}, "abc"),
        ({"authorization": "Basic abc"}, None),
        ({"authorization": "Bearer "}, None),
        ({"api-key": "abc"}, "abc"),
        ({}, None),
    ],
)
def test_presented_key(headers: dict[str, str], key: str | None) -> None:
    assert presented_key(headers) == key


def test_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("support-bot: sk-1\nmarketing: sk-2\n")
    keys = load_key_file(path)
    assert keys.names == {"support-bot", "marketing"}
    assert keys.identify("sk-2") == "marketing"


@pytest.mark.parametrize(("text", "message"), [("", "expected a mapping"), ("a: ''", "empty key"),
                                              ("- x", "expected a mapping"), ("a: [1]", "must be strings")])
def test_bad_key_files_say_why(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(text)
    with pytest.raises(KeyFileError, match=message):
        load_key_file(path)


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read"):
        load_key_file(tmp_path / "nope.yaml")


def test_keys_from_a_secret() -> None:
    secret = {"metadata": {"name": "clients", "namespace": "airoute"},
              "data": {"support-bot": base64.b64encode(b"sk-1\n").decode()}, "stringData": {"ops": "sk-2"}}
    keys = keys_from_secret(secret)
    assert keys.identify("sk-1") == "support-bot" and keys.identify("sk-2") == "ops"


async def test_the_keyring_follows_its_file_and_keeps_the_last_good_keys(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("support-bot: sk-one\n")
    keyring = Keyring()
    keyring.load_file(str(path))
    assert keyring.keys is not None and keyring.keys.identify("sk-one") == "support-bot"
    poll = asyncio.create_task(keyring.poll_file(str(path), 0.01))
    try:
        path.write_text("support-bot: sk-two\nmarketing: sk-three\n")
        await eventually(lambda: keyring.keys is not None and len(keyring.keys) == 2)
        with caplog.at_level(logging.ERROR, "airoute.gateway.client_keys"):
            path.write_text("support-bot: [not a key\n")
            await eventually(lambda: "keeping the previous keys" in caplog.text)
        assert "not a key" not in caplog.text, "a key file is never quoted"
        assert keyring.keys is not None and keyring.keys.identify("sk-two") == "support-bot"
    finally:
        poll.cancel()
