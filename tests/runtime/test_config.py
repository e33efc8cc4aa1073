"""The agent's environment, read once into one frozen config; bad values never crash a job."""

from __future__ import annotations

import dataclasses
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voice_settings.runtime.config import (
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_RETRY_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    MAIN_PROCESS_ENV,
    WORKER_COMMANDS,
    AgentConfig,
    is_worker_main_process,
    problem_before_start,
)
from voice_settings.store import load_directory


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
    profiles = load_directory()
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


def test_a_directory_named_like_a_profile_is_skipped_naming_it(tmp_path, caplog):
    (tmp_path / "default.toml").mkdir()  # not a file: no profile, one line
    assert problem_before_start("start", {"VOICE_PROFILES_DIR": str(tmp_path)}) is None
    assert "default.toml: a directory" in caplog.text


def test_an_unreachable_database_is_named(tmp_path):
    closed = "postgresql://postgres@127.0.0.1:1/profiles"
    problem = problem_before_start("start", {"VOICE_PROFILES_URL": closed})
    assert problem is not None and "127.0.0.1:1/profiles" in problem
    assert "unreachable" in problem


def test_only_the_process_that_ran_the_command_is_the_workers_main_process(monkeypatch):
    """Job processes import agent.py with the main process's environment: they are not it, even
    where multiprocessing does not know it yet (the forkserver's children, at import)."""
    monkeypatch.delenv(MAIN_PROCESS_ENV, raising=False)
    assert not is_worker_main_process("download-files")
    assert MAIN_PROCESS_ENV not in os.environ
    assert is_worker_main_process("start") and is_worker_main_process("start")
    monkeypatch.setenv(MAIN_PROCESS_ENV, str(os.getppid()))  # as a job process sees it
    assert not is_worker_main_process("start")
