"""A sample of the long hostile-payload run on every CI run (bench/reliability.py runs a million):
nothing escapes, and the checks would see it if something did."""

from __future__ import annotations

import sys

from tests.hostile_payloads import HostilePayloads
from tests.payload_run import PayloadRun, publishable
from voice_settings.runtime import attributes

CI_PAYLOADS = 2000


def test_hostile_payloads_never_escape():
    report = PayloadRun(seed=20261201).run(CI_PAYLOADS)

    assert report.escapes == [], report.as_dict()["first_escapes"]
    assert report.payloads == CI_PAYLOADS
    assert set(report.kinds) == {kind for kind, _, _ in HostilePayloads(0).kinds}
    # the sample really is hostile, and really moves the settings
    assert report.rejected_whole > CI_PAYLOADS // 10
    assert report.field_errors > CI_PAYLOADS // 10
    assert report.changes > CI_PAYLOADS // 10
    assert report.calls == 2


def test_the_same_seed_gives_the_same_payloads():
    def fingerprints(seed: int) -> list[object]:
        return [(p.kind, p.whole_rejected, _fingerprint(p.value))
                for p in HostilePayloads(seed).take(500)]

    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # to print the huge integers
    try:
        assert fingerprints(7) == fingerprints(7)
        assert fingerprints(7) != fingerprints(8)
    finally:
        sys.set_int_max_str_digits(limit)


def _fingerprint(value: object) -> object:
    if isinstance(value, memoryview):
        return bytes(value)
    return "object()" if type(value) is object else repr(value)


def test_the_attribute_check_refuses_what_livekit_could_not_take():
    valid = {attributes.SETTINGS: "{}", attributes.PENDING: "{}", attributes.ERRORS: "[]"}
    assert publishable(valid) == []
    assert publishable({**valid, attributes.ERRORS: '["\ud800"]'})[0].startswith(
        "not publishable")
    assert "bytes" in publishable({**valid, "big": "x" * 70_000})[0]
