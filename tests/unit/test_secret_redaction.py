"""Error messages repeat a bad value to help the caller, but never a password or token."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from cairn.server.errors import validation_message


class Login(BaseModel):
    username: int
    password: int
    new_password: list[str]
    api_token: dict[str, str]


def test_secret_fields_are_hidden_and_others_shown() -> None:
    with pytest.raises(ValidationError) as caught:
        Login.model_validate(
            {
                "username": "alice-the-name",
                "password": "hunter2-very-secret",
                "new_password": "another-secret",
                "api_token": "cairn_abcdefghijklmnopqrstuvwxyz",
            }
        )
    message = validation_message(caught.value)
    assert "alice-the-name" in message
    for secret in ("hunter2-very-secret", "another-secret", "cairn_abcdefghij"):
        assert secret not in message
    assert message.count("(hidden)") == 3
