"""`python -m voice_settings`: validate, explain, schema and profiles, called in-process."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from tests.strategies import hostile_metadata
from tests.tokens.serve_helpers import shipped_profiles
from voice_settings.cli import main
from voice_settings.errors import METADATA
from voice_settings.json_input import MAX_METADATA_BYTES
from voice_settings.model import FIELDS, OPERATOR_FIELDS, VoiceSettings
from voice_settings.profiles import (
    DEFAULT_PROFILE_ENV,
    DEFAULT_PROFILES_DIR,
    PROFILES_DIR_ENV,
)
from voice_settings.schema import participant_schema, reference_markdown, settings_schema
from voice_settings.sources import Source
from voice_settings.store import load_directory

ROOT = Path(__file__).resolve().parent.parent
REPORT_KEYS = {"settings", "errors"}
ERROR_KEYS = {"field", "value", "message", "source"}
SETTINGS_VALIDATOR = Draft202012Validator(settings_schema())


@pytest.fixture(autouse=True)
def no_profile_env(monkeypatch):
    monkeypatch.delenv(DEFAULT_PROFILE_ENV, raising=False)
    monkeypatch.delenv(PROFILES_DIR_ENV, raising=False)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _stdin(data: bytes | str | None) -> io.TextIOBase:
    """stdin as a desktop shell gives it: UTF-8, strict; None is an interactive terminal."""
    if data is None:
        return _Terminal()
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="strict")


def run(capsys, *argv: str, stdin: bytes | str | None = b"") -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of one CLI call; argparse's exits count as exit codes."""
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdin", _stdin(stdin))
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def _no_constants(name: str) -> Any:
    raise AssertionError(f"{name} in the output is not strict JSON")


def strict_json(text: str) -> Any:
    return json.loads(text, parse_constant=_no_constants)


def reports(out: str) -> list[dict[str, Any]]:
    """One strict JSON object per output line, nothing else."""
    assert out.endswith("\n") or out == ""
    lines = out.split("\n")[:-1]
    parsed = [strict_json(line) for line in lines]
    assert all(isinstance(report, dict) for report in parsed)
    return parsed


def only_report(out: str) -> dict[str, Any]:
    [report] = reports(out)
    return report


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- validate: where the metadata comes from --------------------------------------------------

METADATA_TEXT = '{"endpointingMs": 300, "systemPrompt": "Be brief.", "theme": "dark"}'


@pytest.mark.parametrize("how", ["argument", "file", "file-dash", "stdin"])
def test_validate_reads_argument_file_or_stdin(capsys, tmp_path, how):
    path = tmp_path / "metadata.json"
    path.write_text(METADATA_TEXT, encoding="utf-8")
    argv, stdin = {
        "argument": (["validate", "--json", METADATA_TEXT], b""),
        "file": (["validate", "--json", "--file", str(path)], b""),
        "file-dash": (["validate", "--json", "--file", "-"], METADATA_TEXT),
        "stdin": (["validate", "--json"], METADATA_TEXT),
    }[how]
    code, out, err = run(capsys, *argv, stdin=stdin)
    assert (code, err) == (0, "")
    report = only_report(out)
    assert set(report) == REPORT_KEYS
    assert report["errors"] == []
    expected = VoiceSettings(endpointing_ms=300, instructions="Be brief.", profile="default")
    assert report["settings"] == expected.model_dump(mode="json")


def test_no_metadata_on_a_terminal_is_a_usage_error(capsys):
    code, out, err = run(capsys, "validate", stdin=None)
    assert code == 2 and out == ""
    assert "no metadata" in err


def test_file_dash_reads_even_a_terminal(capsys):
    code, out, _ = run(capsys, "validate", "--json", "--file", "-", stdin=None)
    assert code == 0
    assert only_report(out)["errors"] == []


@pytest.mark.parametrize("argv", [
    ["validate", "--no-such-flag", "{}"],
    ["validate", "--source", "operator", "{}"],
    ["validate", "{}", "--file", "metadata.json"],
    ["validate", "--file", "does/not/exist.json"],
    ["validate", "--file", "."],  # a directory
    ["frobnicate"],
    [],
])
def test_usage_errors_exit_2_and_print_nothing_on_stdout(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err


def test_an_unreadable_file_is_named(capsys):
    code, _, err = run(capsys, "validate", "--file", "does/not/exist.json")
    assert code == 2
    assert "does/not/exist.json" in err and "Traceback" not in err


def test_both_argument_and_file_is_refused(capsys, tmp_path):
    path = tmp_path / "m.json"
    path.write_text("{}")
    code, out, err = run(capsys, "validate", "{}", "--file", str(path))
    assert (code, out) == (2, "")
    assert "not both" in err


# --- validate: exit codes and the report ------------------------------------------------------

def test_a_dropped_value_exits_1_and_is_reported(capsys):
    code, out, _ = run(capsys, "validate", "--json", '{"endpointing_ms": -1, "greeting": "Hi"}')
    assert code == 1
    report = only_report(out)
    assert report["settings"]["endpointing_ms"] == VoiceSettings().endpointing_ms
    assert report["settings"]["greeting"] == "Hi"
    [error] = report["errors"]
    assert set(error) == ERROR_KEYS
    assert error["field"] == "endpointing_ms"
    assert error["value"] == -1
    assert error["source"] == "participant"
    assert "0 ms" in error["message"] and "5000 ms" in error["message"]


def test_an_adjusted_value_exits_1(capsys):
    # The default profile's max is 3 s; the participant's min of 4 s wins and moves max.
    code, out, _ = run(capsys, "validate", "--json", '{"min_endpointing_delay": 4}')
    assert code == 1
    report = only_report(out)
    assert report["settings"]["min_endpointing_delay"] == 4.0
    assert report["settings"]["max_endpointing_delay"] == 4.0
    assert [e["field"] for e in report["errors"]] == ["max_endpointing_delay"]


def test_text_output_lists_every_field_and_errors_on_stderr(capsys):
    code, out, err = run(capsys, "validate", '{"endpointing_ms": 300, "greeting": 5}')
    assert code == 1
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == list(FIELDS)
    assert lines[0].split() == ["endpointing_ms", "300"]
    assert err.startswith("error: greeting:")


def test_unknown_keys_are_listed_only_on_request(capsys):
    document = '{"theme": "dark", "endpointingMs": 300, "userName": "x"}'
    code, out, _ = run(capsys, "validate", "--json", document)
    assert code == 0 and "unknown_keys" not in only_report(out)
    code, out, _ = run(capsys, "validate", "--json", "--unknown", document)
    assert code == 0
    report = only_report(out)
    assert set(report) == REPORT_KEYS | {"unknown_keys"}
    assert report["unknown_keys"] == [{"source": "participant", "key": "theme"},
                                      {"source": "participant", "key": "userName"}]
    code, out, _ = run(capsys, "validate", "--unknown", document)
    assert "unknown keys (ignored): theme (participant), userName (participant)" in out


def test_json_output_survives_a_non_utf8_stdout(capsys, monkeypatch):
    """An ASCII (or cp1252) stdout still gets valid JSON for any text in the settings."""
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="ascii"))
    document = json.dumps({"greeting": "Grüß dich \u0081 中", "endpointing_ms": 90000})
    code = main(["validate", "--json", document])
    sys.stdout.flush()
    assert code == 1  # endpointing_ms is refused
    report = strict_json(raw.getvalue().decode("ascii"))
    assert report["settings"]["greeting"] == "Grüß dich \u0081 中"


def test_invalid_utf8_on_stdin_is_reported_not_raised(capsys):
    code, out, err = run(capsys, "validate", "--json",
                         stdin=b'{"endpointing_ms": 300, "greeting": "\xff"}')
    assert code == 1 and "Traceback" not in err
    report = only_report(out)
    assert [e["field"] for e in report["errors"]] == [METADATA]
    assert "UTF-8" in report["errors"][0]["message"]
    assert report["settings"]["endpointing_ms"] == VoiceSettings().endpointing_ms


def test_stdin_is_utf8_whatever_the_locale(capsys):
    """A latin-1 locale must not turn the UTF-8 bytes of "é" into "Ã©"."""
    stdin = io.TextIOWrapper(io.BytesIO('{"greeting": "é"}'.encode()), encoding="latin-1")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdin", stdin)
        assert main(["validate", "--json"]) == 0
    assert only_report(capsys.readouterr().out)["settings"]["greeting"] == "é"


# --- validate: hostile input ------------------------------------------------------------------

def _as_payload(raw: Any) -> str | bytes:
    """What hostile_metadata draws, as the CLI can receive it: text or bytes."""
    if isinstance(raw, bytes | bytearray | memoryview):
        return bytes(raw)
    if isinstance(raw, str):
        return raw
    if isinstance(raw, MagicMock):
        return repr(raw)
    return json.dumps(raw)  # NaN and Infinity become literals, lone surrogates \ud800 escapes


def _oversized_text() -> str:
    return "x" * (MAX_METADATA_BYTES + 1)


hostile_payloads = st.one_of(
    hostile_metadata.map(_as_payload),
    st.sampled_from([
        '{"instructions": "\ud800"}',                  # a raw lone surrogate, not an escape
        '{"greeting": "\udcff", "endpointing_ms": 300}',
        '{"endpointing_ms": NaN, "user_away_timeout": -Infinity}',
        b"\xff\xfe{}", b'{"greeting": "\xc3"}\n{"x": 1}\n',
        '{"greeting": "a\u2028b"}\n\n{"greeting": "\x1c"}\r\n',
        "\n" * 5, "",
    ]),
    st.builds(_oversized_text),
)


def _lines(payload: str | bytes) -> list[int]:
    """The numbers of the non-blank "\\n"-separated lines of a payload."""
    text = payload.decode("utf-8", "surrogateescape") if isinstance(payload, bytes) else payload
    return [n for n, line in enumerate(text.split("\n"), 1) if line.removesuffix("\r").strip()]


def _over_the_limit(payload: str | bytes, jsonl: bool) -> bool:
    """Whether the input (or, for JSON Lines, one of its records) is over the metadata limit."""
    data = payload if isinstance(payload, bytes) else payload.encode("utf-8", "surrogatepass")
    records = [r.removesuffix(b"\r") for r in data.split(b"\n")] if jsonl else [data]
    return any(len(record) > MAX_METADATA_BYTES for record in records)


@given(payload=hostile_payloads, channel=st.sampled_from(["argument", "stdin", "file"]),
       source=st.sampled_from(["participant", "dispatch"]), jsonl=st.booleans(),
       unknown=st.booleans(), dispatch=st.one_of(st.none(), hostile_metadata.map(_as_payload)
                                                  .filter(lambda p: isinstance(p, str))))
@pytest.mark.filterwarnings("ignore:Generating overly large repr")  # the shared strategies
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_validate_json_is_total_on_hostile_input(capsys, tmp_path, payload, channel, source,
                                                 jsonl, unknown, dispatch):
    argv = ["validate", "--json", "--source", source]
    argv += ["--jsonl"] * jsonl + ["--unknown"] * unknown
    if dispatch is not None and source == "participant":
        argv += [f"--dispatch={dispatch}"]
    stdin: bytes | str = b""
    if channel == "argument":  # argv holds undecodable bytes as surrogate escapes
        text = payload.decode("utf-8", "surrogateescape") if isinstance(payload, bytes) \
            else payload
        argv += ["--", text] if text.startswith("-") else [text]
    elif channel == "stdin":
        stdin = payload
    else:
        path = tmp_path / "payload.json"
        path.write_bytes(payload if isinstance(payload, bytes)
                         else payload.encode("utf-8", "surrogatepass"))
        argv += ["--file", str(path)]

    code, out, err = run(capsys, *argv, stdin=stdin)

    assert "Traceback" not in err
    if _over_the_limit(payload, jsonl):  # refused before anything is read past the limit
        assert code == 2 and err.count("\n") == 1 and "byte limit" in err
        return
    assert code in (0, 1), err
    printed = reports(out)
    keys = REPORT_KEYS | ({"unknown_keys"} if unknown else set())
    if jsonl:
        assert [r.pop("line") for r in printed] == _lines(payload)
    else:
        assert len(printed) == 1
    for report in printed:
        assert set(report) == keys
        VoiceSettings.model_validate(report["settings"])
        SETTINGS_VALIDATOR.validate(report["settings"])
        for error in report["errors"]:
            assert set(error) == ERROR_KEYS
            assert error["field"] in FIELDS or error["field"] == METADATA
            assert error["source"] in {s.value for s in Source}
    assert code == int(any(r["errors"] for r in printed))


# --- validate --jsonl -------------------------------------------------------------------------

def test_jsonl_reports_each_non_empty_line_with_its_number(capsys, tmp_path):
    path = tmp_path / "users.jsonl"
    path.write_bytes(b'{"endpointing_ms": 300}\r\n\n   \n{"endpointing_ms": -5}\n'
                     b'{"greeting": "a\xe2\x80\xa8b\xc2\x85"}\n')  # raw U+2028 and U+0085
    code, out, _ = run(capsys, "validate", "--json", "--jsonl", "--file", str(path))
    assert code == 1
    printed = reports(out)
    assert [r["line"] for r in printed] == [1, 4, 5]
    assert list(printed[0]) == ["line", "settings", "errors"]
    assert printed[0]["settings"]["endpointing_ms"] == 300 and printed[0]["errors"] == []
    assert [e["field"] for e in printed[1]["errors"]] == ["endpointing_ms"]
    assert printed[2]["settings"]["greeting"] == "a\u2028b\x85" and printed[2]["errors"] == []


def _validate_each_way(capsys, tmp_path: Path, payload: bytes) -> list[tuple[int, str]]:
    """(exit code, stdout) of `validate --json --jsonl` given `payload` as an argument (as a
    shell passes bytes), in a file and on stdin."""
    path = tmp_path / "payload.jsonl"
    path.write_bytes(payload)
    argument = payload.decode("utf-8", "surrogateescape")
    argv = ["validate", "--json", "--jsonl"]
    return [run(capsys, *argv, "--", argument)[:2], run(capsys, *argv, "--file", str(path))[:2],
            run(capsys, *argv, stdin=payload)[:2]]


@given(payload=st.lists(st.sampled_from(["\r", "\n", "\r\n", "0", "{}", '{"x": 1}', " ",
                                         "\u2028", "\x1c", "\x85", "\xff", "{", '"a"']),
                        max_size=12).map("".join).map(lambda t: t.encode("utf-8")))
@example(payload=b"\r0")  # found by hypothesis: --file split it into two records, stdin did not
@example(payload=b'{"endpointing_ms": 300}\r{"endpointing_ms": 400}\r\n{}\n')
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_jsonl_records_are_the_same_from_an_argument_a_file_and_stdin(capsys, tmp_path,
                                                                       payload):
    argument, file, stdin = _validate_each_way(capsys, tmp_path, payload)
    assert argument == file == stdin
    assert [r["line"] for r in reports(file[1])] == _lines(payload)


def test_a_lone_carriage_return_does_not_split_a_record(capsys, tmp_path):
    for code, out in _validate_each_way(capsys, tmp_path, b'{"endpointing_ms": 300}\r0\r\n{}'):
        assert code == 1
        assert [r["line"] for r in reports(out)] == [1, 2]


@pytest.mark.parametrize("jsonl", [False, True])
@pytest.mark.parametrize("how", ["file", "stdin"])
def test_an_endless_input_is_read_only_to_the_limit(capsys, how, jsonl):
    """/dev/zero never ends: reading stops after the limit, with one line and exit 2."""
    argv = ["validate", "--json"] + ["--jsonl"] * jsonl + ["--file", "/dev/zero"] * (how == "file")
    capsys.readouterr()
    with open("/dev/zero", encoding="utf-8") as zeros, pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stdin", zeros)
        code = main(argv)
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and f"{MAX_METADATA_BYTES} byte limit" in err


def test_jsonl_exits_0_when_every_line_is_clean(capsys):
    code, out, _ = run(capsys, "validate", "--json", "--jsonl",
                       stdin='{"endpointing_ms": 300}\n{"greeting": "Hi"}\n')
    assert code == 0
    assert [r["line"] for r in reports(out)] == [1, 2]


def test_jsonl_text_output_marks_lines(capsys):
    code, out, _ = run(capsys, "validate", "--jsonl", stdin='{}\n\n{"endpointing_ms": 1}\n')
    assert code == 0
    assert "--- line 1" in out and "--- line 3" in out and "--- line 2" not in out


# --- validate: sources ------------------------------------------------------------------------

OPERATOR_DOCUMENT = json.dumps({"llm_model": "gpt-4.1", "tts_voice": "verse",
                                "stt_language": "multi", "endpointing_ms": 300})


def test_dispatch_source_accepts_operator_fields(capsys):
    code, out, _ = run(capsys, "validate", "--json", "--source", "dispatch", OPERATOR_DOCUMENT)
    assert code == 0
    report = only_report(out)
    assert report["errors"] == []
    assert report["settings"]["llm_model"] == "gpt-4.1"
    assert report["settings"]["tts_voice"] == "verse"
    assert report["settings"]["stt_language"] == "multi"


def test_participant_source_refuses_operator_fields_saying_who_may(capsys):
    code, out, _ = run(capsys, "validate", "--json", OPERATOR_DOCUMENT)
    assert code == 1
    report = only_report(out)
    assert report["settings"]["endpointing_ms"] == 300  # the rest still applies
    defaults = VoiceSettings()
    for field in ("llm_model", "tts_voice", "stt_language"):
        assert report["settings"][field] == getattr(defaults, field)
    refused = {e["field"]: e["message"] for e in report["errors"]}
    assert set(refused) == {"llm_model", "tts_voice", "stt_language"} <= OPERATOR_FIELDS
    assert all("operator" in message for message in refused.values())


def test_dispatch_metadata_resolves_beneath_participant_metadata(capsys):
    dispatch = json.dumps({"endpointing_ms": 100, "greeting": "Welcome.", "llm_model": "gpt-4.1",
                           "profile": "patient"})
    code, out, _ = run(capsys, "explain", "--json", "--dispatch", dispatch,
                       '{"endpointing_ms": 300}')
    assert code == 0
    report = only_report(out)
    patient = load_directory().values("patient")
    assert report["settings"]["endpointing_ms"] == 300
    assert report["settings"]["greeting"] == "Welcome."
    assert report["settings"]["llm_model"] == "gpt-4.1"
    assert report["settings"]["profile"] == "patient"
    assert report["settings"]["max_endpointing_delay"] == patient["max_endpointing_delay"]
    assert report["sources"]["endpointing_ms"] == "participant"
    assert report["sources"]["greeting"] == "dispatch"
    assert report["sources"]["llm_model"] == "dispatch"
    assert report["sources"]["max_endpointing_delay"] == "profile"


# --- explain ----------------------------------------------------------------------------------

def test_explain_names_each_fields_source(capsys):
    code, out, _ = run(capsys, "explain", '{"endpointing_ms": 300}')
    assert code == 0
    lines = dict((line.split()[0], line) for line in out.splitlines())
    assert list(lines) == list(FIELDS)
    assert lines["endpointing_ms"].endswith("(participant)")
    assert lines["max_endpointing_delay"].endswith("(default_profile)")  # default.toml sets it
    assert lines["greeting"].endswith("(default)")  # default.toml leaves it alone


def test_explain_json_adds_sources_for_every_field(capsys):
    code, out, _ = run(capsys, "explain", "--json", '{"endpointing_ms": 300, "x": 1}')
    assert code == 0
    report = only_report(out)
    assert set(report) == REPORT_KEYS | {"sources"}
    assert list(report["sources"]) == list(FIELDS)
    assert set(report["sources"].values()) <= {s.value for s in Source}
    assert report["sources"]["endpointing_ms"] == "participant"


def test_validate_json_has_no_sources(capsys):
    assert "sources" not in only_report(run(capsys, "validate", "--json", "{}")[1])


# --- schema -----------------------------------------------------------------------------------

def test_schema_is_the_participant_schema(capsys):
    code, out, _ = run(capsys, "schema")
    assert code == 0
    schema = strict_json(out)
    assert schema == participant_schema()
    Draft202012Validator.check_schema(schema)
    assert not set(schema["properties"]) & OPERATOR_FIELDS
    assert schema["additionalProperties"] is True
    validator = Draft202012Validator(schema)
    validator.validate({"theme": "dark", "endpointingMs": 300})  # other keys are the app's
    assert not validator.is_valid({"endpointingMs": "300"})
    assert not validator.is_valid({"llmModel": "gpt-4.1"})  # refused as the parser refuses it


def test_schema_all_has_every_field(capsys):
    code, out, _ = run(capsys, "schema", "--all")
    assert code == 0
    schema = strict_json(out)
    assert schema == settings_schema()
    assert list(schema["properties"]) == list(FIELDS)


def test_schema_markdown_is_the_reference_table(capsys):
    code, out, _ = run(capsys, "schema", "--markdown")
    assert code == 0
    assert out == reference_markdown()


# --- profiles list / show ---------------------------------------------------------------------

def test_profiles_list_marks_the_default(capsys):
    code, out, _ = run(capsys, "profiles", "list")
    assert code == 0
    store = load_directory()
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        f"{n} (default)" if n == "default" else n for n in store.names()]
    assert f"snappy: {store.descriptions['snappy']}" in lines


def test_profiles_list_follows_the_default_profile_option(capsys):
    code, out, _ = run(capsys, "--default-profile", "patient", "profiles", "list")
    assert code == 0
    marked = [line for line in out.splitlines() if "(default)" in line]
    assert len(marked) == 1 and marked[0].startswith("patient (default):")


def test_profiles_show_prints_the_file(capsys):
    code, out, _ = run(capsys, "profiles", "show", "snappy")
    assert code == 0
    assert out == (DEFAULT_PROFILES_DIR / "snappy.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["nope", "../profiles/default", "Default"])
def test_profiles_show_unknown_is_a_usage_error(capsys, name):
    code, out, err = run(capsys, "profiles", "show", name)
    assert (code, out) == (2, "")
    assert "unknown profile" in err and "snappy" in err  # names what exists


# --- profiles new -----------------------------------------------------------------------------

@pytest.fixture
def profiles_dir(tmp_path) -> Path:
    directory = tmp_path / "profiles"
    directory.mkdir()
    write(directory, "default", 'description = "Base"\nendpointing_ms = 25\n'
          "max_endpointing_delay = 2.0\n")
    write(directory, "patient", 'description = "Slow speakers"\nmin_endpointing_delay = 1.0\n'
          'max_endpointing_delay = 6.0\nutterance_end_ms = 1500\n')
    return directory


def new(capsys, directory: Path, *args: str) -> tuple[int, str, str]:
    return run(capsys, "--profiles-dir", str(directory), "profiles", "new", *args)


def test_profiles_new_writes_exactly_the_values_asked_for(capsys, profiles_dir):
    code, out, err = new(capsys, profiles_dir, "calm", "--set", "endpointingMs=300",
                         "--set", "utterance_end_ms=off", "--set", "min_endpointing_delay=1",
                         "--set", "systemPrompt=Speak slowly. Use \"short\" words.",
                         "--set", "llm_model=gpt-4.1", "--set", "allow_interruptions=false",
                         "--description", "For calm callers")
    assert (code, err) == (0, "")
    path = profiles_dir / "calm.toml"
    assert out == f"wrote {path}\n"
    store = load_directory(profiles_dir)
    assert store.values("calm") == {
        "endpointing_ms": 300, "utterance_end_ms": None, "min_endpointing_delay": 1.0,
        "instructions": 'Speak slowly. Use "short" words.', "llm_model": "gpt-4.1",
        "allow_interruptions": False}
    assert store.descriptions["calm"] == "For calm callers"
    assert tomllib.loads(path.read_text())["utterance_end_ms"] == "off"


def test_profiles_new_suggests_the_closest_name_for_an_unknown_setting(capsys, profiles_dir):
    code, out, err = new(capsys, profiles_dir, "calm", "--set", "endpointingms=300")
    assert code == 2 and out == ""
    assert "unknown setting 'endpointingms'; did you mean endpointing_ms?" in err
    assert not (profiles_dir / "calm.toml").exists()


def test_profiles_new_from_a_base_copies_it_then_applies_the_sets(capsys, profiles_dir):
    code, _, _ = new(capsys, profiles_dir, "patient2", "--from", "patient",
                     "--set", "utterance_end_ms=2000", "--set", "greeting=")
    assert code == 0
    store = load_directory(profiles_dir)
    assert store.values("patient2") == {**store.values("patient"), "utterance_end_ms": 2000,
                                        "greeting": ""}
    assert store.descriptions["patient2"] == "Slow speakers"  # the base's, unless given


def test_profiles_new_from_a_base_keeps_its_comment_block_under_what_changed(capsys, tmp_path):
    directory = shipped_profiles(tmp_path / "profiles")
    code, _, err = new(capsys, directory, "kids", "--from", "patient", "--set",
                       "greeting=Hi there!", "--set", "min_endpointing_delay=1.5")
    assert code == 0, err
    text = (directory / "kids.toml").read_text(encoding="utf-8")
    base = (directory / "patient.toml").read_text(encoding="utf-8")
    base_comment = [line for line in base.splitlines() if line.startswith("#")]
    lines = text.splitlines()
    assert lines[0] == ("# kids: derived from patient (profiles/patient.toml) with greeting, "
                        "min_endpointing_delay changed.")
    assert lines[1] == "#" and lines[2:2 + len(base_comment)] == base_comment
    # Long text stays readable: a multi-line string folded at spaces, as patient.toml has it.
    assert 'instructions = """' in text and all(len(line) <= 100 for line in lines)
    store = load_directory(directory)
    assert store.values("kids") == {**store.values("patient"), "greeting": "Hi there!",
                                    "min_endpointing_delay": 1.5}
    assert store.descriptions["kids"] == store.descriptions["patient"]


def test_profiles_new_from_a_base_unchanged_says_so(capsys, tmp_path):
    directory = shipped_profiles(tmp_path / "profiles")
    code, _, _ = new(capsys, directory, "copy", "--from", "snappy", "--description", "Mine")
    assert code == 0
    first = (directory / "copy.toml").read_text(encoding="utf-8").splitlines()[0]
    assert first == "# copy: derived from snappy (profiles/snappy.toml) with description changed."


def test_profiles_new_refuses_to_overwrite_without_force(capsys, profiles_dir):
    before = (profiles_dir / "patient.toml").read_text()
    code, out, err = new(capsys, profiles_dir, "patient", "--set", "endpointing_ms=300")
    assert (code, out) == (2, "")
    assert "--force" in err
    assert (profiles_dir / "patient.toml").read_text() == before
    code, _, _ = new(capsys, profiles_dir, "patient", "--set", "endpointing_ms=300", "--force")
    assert code == 0
    assert load_directory(profiles_dir).values("patient") == {"endpointing_ms": 300}


@pytest.mark.parametrize(("assignment", "words"), [
    ("endpointing_ms=6000", "5000"),
    ("min_endpointing_delay=500", "Did you mean 0.5?"),
    ("turn_detection=sometimes", "model"),
    ("no_such_setting=1", "unknown setting"),
    ("endpointing_ms", "key=value"),
    ("profile=patient", "per call"),
    ("assistant_id=abc", "per call"),
    ("endpointing_ms=NaN", "endpointing_ms"),
    ("min_endpointing_delay=4", "max_endpointing_delay"),  # over the default's max of 3 s
])
def test_profiles_new_refuses_invalid_sets_and_writes_nothing(capsys, profiles_dir,
                                                               assignment, words):
    code, out, err = new(capsys, profiles_dir, "broken", "--set", assignment)
    assert (code, out) == (2, "")
    assert words in err
    assert not (profiles_dir / "broken.toml").exists()
    load_directory(profiles_dir)  # still loads


def test_profiles_new_refuses_what_conflicts_over_the_default_profile(capsys, profiles_dir):
    """Alone it is valid; over default.toml's max of 2 s it is not, and the store would refuse
    to load with it: every command and the agent would fail at start."""
    code, _, err = new(capsys, profiles_dir, "slow", "--set", "min_endpointing_delay=2.5",
                       "--set", "max_endpointing_delay=4", "--set", "endpointing_ms=0")
    assert code == 0, err
    code, out, err = new(capsys, profiles_dir, "slower", "--set", "min_endpointing_delay=2.5")
    assert (code, out) == (2, "")
    assert "slower.toml" in err and "over the default profile 'default'" in err
    assert "max_endpointing_delay (2 s)" in err
    assert not (profiles_dir / "slower.toml").exists()
    # Replacing the default profile with one that the others conflict with is refused too.
    code, _, err = new(capsys, profiles_dir, "default", "--force", "--set", "turn_detection=stt",
                       "--set", "utterance_end_ms=off")
    assert code == 2
    assert "slow.toml" in err and "turn_detection" in err
    load_directory(profiles_dir)


@pytest.mark.parametrize("name", ["../escaped", "Bad Name", "sub/dir", ".hidden", ""])
def test_profiles_new_refuses_names_that_are_not_profile_names(capsys, profiles_dir, name):
    code, out, err = new(capsys, profiles_dir, name, "--set", "endpointing_ms=300")
    assert (code, out) == (2, "")
    assert "not a profile name" in err
    assert sorted(p.name for p in profiles_dir.parent.rglob("*.toml")) == [
        "default.toml", "patient.toml"]
    load_directory(profiles_dir)


def test_profiles_new_with_an_unknown_base_is_a_usage_error(capsys, profiles_dir):
    code, _, err = new(capsys, profiles_dir, "x", "--from", "nope")
    assert code == 2 and "unknown base profile" in err
    assert not (profiles_dir / "x.toml").exists()


def test_a_broken_profiles_dir_is_a_usage_error_for_every_command(capsys, profiles_dir):
    write(profiles_dir, "bad", "endpointing_ms = -1\n")
    code, out, err = run(capsys, "--profiles-dir", str(profiles_dir), "validate", "{}")
    assert (code, out) == (2, "")
    assert "bad.toml" in err and "endpointing_ms" in err
    code, _, err = run(capsys, "--profiles-dir", str(profiles_dir / "missing"), "profiles", "list")
    assert code == 2 and "missing" in err


# --- a closed pipe ----------------------------------------------------------------------------

class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("argv", [["profiles", "list"], ["schema"], ["validate", "--json", "{}"],
                                  ["validate", "--json", '{"endpointing_ms": -1}']])
def test_a_broken_pipe_on_stdout_is_not_an_error(capsys, monkeypatch, argv):
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(argv) == 0
    assert isinstance(sys.stdout, io.TextIOWrapper)  # discarded, to /dev/null
    sys.stdout.close()
    assert capsys.readouterr().err == ""


# --- the real entry point ---------------------------------------------------------------------

def _module(*argv: str, stdin: bytes = b"", stdout: Any = subprocess.PIPE,
            **env: str) -> subprocess.CompletedProcess[bytes]:
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("PYTHONUNBUFFERED", PROFILES_DIR_ENV, DEFAULT_PROFILE_ENV)}
    return subprocess.run([sys.executable, "-m", "voice_settings", *argv], input=stdin,
                          stdout=stdout, stderr=subprocess.PIPE, cwd=ROOT, timeout=60,
                          env={**environment, **env})


def test_module_entry_point_validates_undecodable_stdin():
    """A desktop locale's strict stdin: invalid UTF-8 is an error report, not a traceback."""
    done = _module("validate", "--json", stdin=b'{"endpointing_ms": 300, "greeting": "\xff"}',
                   PYTHONIOENCODING="utf-8:strict")
    assert done.returncode == 1, done.stderr
    assert done.stderr == b""
    report = only_report(done.stdout.decode("ascii"))
    assert [e["field"] for e in report["errors"]] == [METADATA]


def test_module_entry_point_is_quiet_when_the_reader_has_gone():
    """Buffered stdout into a closed pipe (`| head`): exit 0, no "Exception ignored"."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = _module("profiles", "list", stdout=write_end)
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (0, b"")
