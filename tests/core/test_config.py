"""Settings come from the seed's environment names and fail with the variable's name."""

from __future__ import annotations

import pytest

from boltq_core import Settings
from boltq_core.errors import ConfigError


def test_defaults_and_seed_names() -> None:
    s = Settings.from_env({})
    assert (s.api_port, s.metrics_port, s.num_workers, s.max_attempts) == (8080, 9090, 4, 3)
    assert s.url == "redis://localhost:6379/0" and s.environment == "development"
    s = Settings.from_env({"REDIS_ADDR": "cache:6380", "NUM_WORKERS": "8", "MAX_ATTEMPTS": "5"})
    assert (s.url, s.num_workers, s.max_attempts) == ("redis://cache:6380/0", 8, 5)


def test_redis_url_wins_over_addr_and_empty_means_unset() -> None:
    s = Settings.from_env({"REDIS_URL": "rediss://:tok@h:6379/0", "REDIS_ADDR": "x:1",
                           "MAX_ATTEMPTS": ""})
    assert s.url == "rediss://:tok@h:6379/0" and s.max_attempts == 3


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MAX_ATTEMPTS": "lots"}, "MAX_ATTEMPTS='lots'"),
        ({"MAX_ATTEMPTS": "0"}, "MAX_ATTEMPTS='0'"),
        ({"REDIS_ADDR": "nohost"}, "REDIS_ADDR='nohost'"),
        ({"BOLTQ_PREFIX": "has space"}, "BOLTQ_PREFIX='has space'"),
        ({"API_PORT": "99999"}, "API_PORT='99999'"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env)
    assert named in err.value.message


def test_a_default_timeout_past_the_longest_allowed_is_refused() -> None:
    """Otherwise every job that names no timeout would be refused with a 400 about a field the
    caller never sent."""
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"JOB_TIMEOUT_SECONDS": "900", "MAX_JOB_TIMEOUT_SECONDS": "840"})
    assert "JOB_TIMEOUT_SECONDS (900)" in err.value.message
    assert "MAX_JOB_TIMEOUT_SECONDS (840)" in err.value.message
    s = Settings.from_env({"JOB_TIMEOUT_SECONDS": "840", "MAX_JOB_TIMEOUT_SECONDS": "840"})
    assert s.job_timeout(None) == 840
