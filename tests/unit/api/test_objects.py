"""Keys of Kubernetes objects and the data of Secrets, read the same way everywhere."""

from __future__ import annotations

import base64

import pytest

from airoute.api.objects import SecretDataError, object_key, secret_data, split_key


def test_object_key_defaults_to_the_default_namespace() -> None:
    assert object_key({"metadata": {"namespace": "team", "name": "chat"}}) == "team/chat"
    assert object_key({"metadata": {"name": "chat"}}) == "default/chat"
    assert object_key({"metadata": "not a mapping"}) == "default/"


@pytest.mark.parametrize("text", ["team/chat", "a/b"])
def test_split_key(text: str) -> None:
    assert "/".join(split_key(text)) == text


@pytest.mark.parametrize("text", ["chat", "/chat", "team/", "a/b/c", ""])
def test_split_key_refuses_what_is_not_namespace_slash_name(text: str) -> None:
    with pytest.raises(ValueError, match="is not namespace/name"):
        split_key(text)


def test_secret_data_decodes_data_and_lets_string_data_win() -> None:
    secret = {"data": {"api-key": base64.b64encode(b"from-data").decode(), "token": base64.b64encode(b"t").decode()},
              "stringData": {"api-key": "from-string-data"}}
    assert secret_data(secret) == {"api-key": b"from-string-data", "token": b"t"}


def test_secret_data_that_is_not_base64_names_the_key_not_the_value() -> None:
    with pytest.raises(SecretDataError, match="Secret key 'api-key' is not base64") as caught:
        secret_data({"data": {"api-key": "sk-not*base64"}})
    assert "sk-not" not in str(caught.value)
