"""Secrets at run time (boltq_core.secrets) against moto's Secrets Manager: the environment
names a secret's ARN, the value is read once per process and kept, a plain value set beside it
wins (boltq dev, tests), and a secret that cannot be read stops the start with a message naming
the variable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from boltq_core import Settings
from boltq_core.config import shared_settings
from boltq_core.errors import ConfigError
from boltq_core.secrets import forget_secrets, read_secret


@pytest.fixture
def sm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(k, v)
    forget_secrets()
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="eu-west-1")
    forget_secrets()


def test_settings_read_their_secrets_by_arn(sm: Any) -> None:
    token = sm.create_secret(Name="boltq/redis", SecretString="redis-token-1")["ARN"]
    key = sm.create_secret(Name="boltq/api-key", SecretString="bootstrap-key-0123456789")["ARN"]
    s = Settings.from_env({"REDIS_AUTH_TOKEN_SECRET_ARN": token, "BOLTQ_API_KEY_SECRET_ARN": key})
    assert s.redis_password == "redis-token-1"
    assert s.api_key == "bootstrap-key-0123456789"
    assert s.redis_password_secret_arn == token  # the ARN stays visible, the value is not logged


def test_a_value_is_read_once_per_process_and_a_new_process_sees_a_rotation(sm: Any) -> None:
    arn = sm.create_secret(Name="boltq/redis", SecretString="before")["ARN"]
    env = {"REDIS_AUTH_TOKEN_SECRET_ARN": arn}
    assert Settings.from_env(env).redis_password == "before"
    sm.put_secret_value(SecretId=arn, SecretString="after")  # rotated
    assert Settings.from_env(env).redis_password == "before"  # warm: no call, the kept value
    forget_secrets()  # what a new container starts with
    assert Settings.from_env(env).redis_password == "after"


def test_a_plain_value_wins_and_reads_nothing(sm: Any) -> None:
    # an ARN of a secret that does not exist: reading it would fail
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:missing-AbCdEf"
    s = Settings.from_env({"REDIS_AUTH_TOKEN": "local", "REDIS_AUTH_TOKEN_SECRET_ARN": arn,
                           "BOLTQ_API_KEY": "k", "BOLTQ_API_KEY_SECRET_ARN": arn})
    assert (s.redis_password, s.api_key) == ("local", "k")
    assert Settings.from_env({}).redis_password is None  # neither: no AUTH, nothing read


def test_a_field_of_a_json_secret(sm: Any) -> None:
    arn = sm.create_secret(Name="boltq/store",
                           SecretString=json.dumps({"token": "t-1", "user": "u"}))["ARN"]
    assert read_secret(arn + "#token", "X") == "t-1"
    with pytest.raises(ConfigError, match="'password'"):
        read_secret(arn + "#password", "X")
    plain = sm.create_secret(Name="boltq/plain", SecretString="not json")["ARN"]
    with pytest.raises(ConfigError, match="not a JSON object"):
        read_secret(plain + "#token", "X")


@pytest.mark.parametrize(("reference", "words"), [
    ("redis-token", "expected a Secrets Manager secret ARN"),
    ("arn:aws:ssm:eu-west-1:123456789012:parameter/x", "expected a Secrets Manager secret ARN"),
    ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:missing-AbCdEf",
     "cannot read the secret .*ResourceNotFoundException"),
])
def test_a_secret_that_cannot_be_read_names_the_variable(sm: Any, reference: str,
                                                         words: str) -> None:
    with pytest.raises(ConfigError, match=f"BOLTQ_API_KEY_SECRET_ARN.*{words}") as err:
        Settings.from_env({"BOLTQ_API_KEY_SECRET_ARN": reference})
    if not reference.startswith("arn:aws:secretsmanager"):
        assert reference not in str(err.value)  # maybe a value set by mistake: not echoed


def test_a_binary_secret_is_refused(sm: Any) -> None:
    binary = sm.create_secret(Name="boltq/bin", SecretBinary=b"\x00\x01")["ARN"]
    with pytest.raises(ConfigError, match="no SecretString"):
        read_secret(binary, "REDIS_AUTH_TOKEN_SECRET_ARN")


def test_access_denied_is_a_clear_start_failure() -> None:
    class Denied(Exception):
        response = {"Error": {"Code": "AccessDeniedException"}}  # noqa: RUF012

    class Client:
        def get_secret_value(self, SecretId: str) -> dict[str, str]:
            raise Denied()

    forget_secrets()
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:denied-AbCdEf"
    with pytest.raises(ConfigError, match=r"REDIS_AUTH_TOKEN_SECRET_ARN: cannot read the secret "
                                          r".*denied-AbCdEf: AccessDeniedException"):
        read_secret(arn, "REDIS_AUTH_TOKEN_SECRET_ARN", client=Client())


def test_a_warm_container_keeps_its_settings_and_secrets(sm: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The functions' Settings (config.shared_settings): the environment names the ARNs only,
    as template.yaml gives it; the values are read at the first invocation."""
    arn = sm.create_secret(Name="boltq/api-key", SecretString="bootstrap-key-0123456789")["ARN"]
    for name in ("BOLTQ_API_KEY", "REDIS_AUTH_TOKEN", "REDIS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOLTQ_API_KEY_SECRET_ARN", arn)
    first = shared_settings()
    assert first.api_key == "bootstrap-key-0123456789"
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert shared_settings() is first  # no second read
