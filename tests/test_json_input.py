"""The one reader of JSON objects from untrusted text: one set of rules for every entry point."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voice_settings.json_input import (
    MAX_DEPTH,
    MAX_METADATA_BYTES,
    JsonInputError,
    read_json_object,
)

# JSON documents without lone surrogates (the text a browser's JSON.stringify can produce).
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
_scalars = st.none() | st.booleans() | st.integers(-2**53, 2**53) | _text | st.floats(
    allow_nan=False, allow_infinity=False)
_documents = st.dictionaries(_text, st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner,
                                                                          max_size=4),
    max_leaves=20), max_size=6)


@given(_documents)
def test_every_json_object_reads_back_as_written(document):
    for text in (json.dumps(document), json.dumps(document, ensure_ascii=False)):
        assert read_json_object(text) == document
        assert read_json_object(text.encode("utf-8")) == document


@given(st.binary(max_size=300) | st.text(max_size=300))
def test_anything_else_is_a_json_input_error_never_another_exception(data):
    try:
        document = read_json_object(data)
    except JsonInputError as exc:
        assert exc.message and str(exc) == exc.message
        json.dumps(exc.value)  # what was given is always showable
        assert isinstance(exc.value, str)
        exc.value.encode("utf-8")
    else:
        assert isinstance(document, dict)


@pytest.mark.parametrize("text, words", [
    ('{"a": NaN}', "not valid JSON"),
    ('{"a": [Infinity]}', "not valid JSON"),
    ('{"a": 1, "a": 2}', 'key "a" is given twice'),
    ('{"x": {"b": 1, "b": 1}}', 'key "b" is given twice'),
    ('{"a": "\\ud800"}', "lone UTF-16 surrogate"),
    ('{"\\udfff": 1}', "lone UTF-16 surrogate"),
    ("[]", "must be a JSON object, got list"),
    ("[" * 60_000, f"more than {MAX_DEPTH} deep"),
    ('{"a": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}", f"more than {MAX_DEPTH} deep"),
])
def test_each_rule_names_what_was_wrong(text, words):
    with pytest.raises(JsonInputError, match=words.replace("[", r"\[")):
        read_json_object(text)


def test_nesting_up_to_the_limit_is_fine():
    depth = MAX_DEPTH - 1
    assert read_json_object('{"a": ' + "[" * depth + "]" * depth + "}") == {
        "a": json.loads("[" * depth + "]" * depth)}


def test_the_size_limit_is_utf8_bytes_and_configurable():
    at_limit = '{"a": "' + "é" * ((MAX_METADATA_BYTES - 10) // 2) + '"}'
    assert len(at_limit.encode()) <= MAX_METADATA_BYTES
    read_json_object(at_limit)
    with pytest.raises(JsonInputError, match="over the 100 byte limit"):
        read_json_object('{"a": "' + "x" * 100 + '"}', max_bytes=100)


@pytest.mark.parametrize("data", ["", "  \n", b""])
def test_blank_text_is_an_empty_object(data):
    assert read_json_object(data) == {}


def test_what_names_the_input():
    with pytest.raises(JsonInputError, match="^request body is not valid JSON"):
        read_json_object("{", what="request body")
