"""The agent's environment, read once into one frozen config; bad values never crash a job."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voice_settings import ProfileStore
from voice_settings.runtime.config import (
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_RETRY_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    WORKER_COMMANDS,
    AgentConfig,
    problem_before_start,
)


@pytest.mark.parametrize("raw, seconds", [("30", 30.0), ("0.5", 0.5), ("soon", 120.0),
                                          ("-1", 120.0), ("inf", 120.0), ("nan", 120.0)])
def test_the_participant_wait_is_configurable_and_never_invalid(raw, seconds):
    config = AgentConfig.from_env({"PARTICIPANT_WAIT_TIMEOUT": raw})
    assert config.participant_wait_timeout == seconds
    assert bool(config.problems) == (seconds == 120.0)


def test_llm_and_tts_timeouts_and_retries_are_configurable_for_the_session():
    config = AgentConfig.from_env({"LLM_TIMEOUT": "1.5", "TTS_TIMEOUT": "4",
                                   "LLM_TTS_RETRY_INTERVAL": "0.25"})
    options = config.session_connect_options()
    assert (options.llm_conn_options.timeout, options.tts_conn_options.timeout) == (1.5, 4.0)
    assert options.llm_conn_options.retry_interval == options.tts_conn_options.retry_interval \
        == 0.25
    assert config.problems == ()


def test_unset_or_bad_timeouts_keep_the_framework_defaults_and_say_so():
    unset = AgentConfig.from_env({}).session_connect_options()
    assert unset.llm_conn_options.timeout == unset.tts_conn_options.timeout == \
        DEFAULT_REQUEST_TIMEOUT == 10.0
    assert unset.llm_conn_options.retry_interval == DEFAULT_RETRY_INTERVAL == 2.0
    bad = AgentConfig.from_env({"LLM_TIMEOUT": "0", "LLM_TTS_RETRY_INTERVAL": "soon"})
    assert (bad.llm_timeout, bad.retry_interval) == (10.0, 2.0)
    assert bad.problems == ("LLM_TIMEOUT='0' is not a positive number of seconds; using 10",
                            "LLM_TTS_RETRY_INTERVAL='soon' is not a positive number of seconds; "
                            "using 2")


@given(st.dictionaries(st.sampled_from(["AGENT_NAME", "PARTICIPANT_WAIT_TIMEOUT", "LLM_TIMEOUT",
                                        "TTS_TIMEOUT", "LLM_TTS_RETRY_INTERVAL",
                                        "VOICE_SWITCHABLE_PROFILES", "DEEPGRAM_BASE_URL"]),
                       st.text(max_size=30)))
def test_any_environment_gives_a_usable_config(env):
    config = AgentConfig.from_env(env)
    assert config.agent_name.strip()
    for seconds in (config.participant_wait_timeout, config.llm_timeout, config.tts_timeout,
                    config.retry_interval):
        assert 0 < seconds < float("inf")
    config.session_connect_options()  # the framework accepts them
    assert all(name.strip() == name and name for name in config.switchable_profiles or ())


def test_the_config_is_frozen_and_defaults_when_unset():
    config = AgentConfig.from_env({})
    assert (config.agent_name, config.participant_wait_timeout) == ("settings-agent",
                                                                    DEFAULT_WAIT_TIMEOUT)
    assert config.deepgram_endpoint() == {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.agent_name = "other"  # type: ignore[misc]


def test_switchable_profiles_are_those_named_that_exist():
    profiles = ProfileStore.load()
    assert AgentConfig.from_env({}).switchable(profiles) == profiles.names()
    named = AgentConfig.from_env({"VOICE_SWITCHABLE_PROFILES": " patient, nope ,,snappy"})
    assert named.switchable(profiles) == ["patient", "snappy"]


@pytest.mark.parametrize("command", WORKER_COMMANDS)
def test_a_worker_does_not_start_with_a_missing_default_profile(command):
    problem = problem_before_start(command, {"VOICE_DEFAULT_PROFILE": "nope"})
    assert problem is not None and "nope.toml" in problem and "does not exist" in problem
    assert problem_before_start(command, {}) is None


@pytest.mark.parametrize("command", ["download-files", "--help", None])
def test_commands_that_run_no_job_need_no_profiles(command):
    assert problem_before_start(command, {"VOICE_DEFAULT_PROFILE": "nope"}) is None


def test_an_unreadable_profile_is_named(tmp_path):
    (tmp_path / "default.toml").mkdir()  # exists, cannot be read as a file
    problem = problem_before_start("start", {"VOICE_PROFILES_DIR": str(tmp_path)})
    assert problem is not None and "default.toml" in problem
