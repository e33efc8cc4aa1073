"""Who the call is for: the participant the dispatch names, else the first to join."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest

from voice_settings.runtime.caller import caller_identity


@pytest.mark.parametrize("dispatch, identity", [
    ('{"participant_identity": "carol"}', "carol"),
    ({"participantIdentity": "dave"}, "dave"),
    ('{"participant_identity": "  "}', None),
    ('{"participant_identity": 7}', None),
    ("not json", None),
    (MagicMock(), None),
    ("", None),
])
def test_the_dispatch_may_name_the_caller(dispatch, identity):
    assert caller_identity(dispatch) == identity
