"""200 metadata changes through the real entrypoint, valid and invalid mixed, in bursts
(bench/reliability.py --storm 1000 is the long one, with memory figures)."""

from __future__ import annotations

from tests.agent_helpers import running_agent
from tests.change_storm import ChangeStorm, counted_logs, start_metadata

CI_CHANGES = 200


async def test_a_storm_of_changes_ends_with_the_last_valid_instructions_in_order():
    with counted_logs() as logs:
        async with running_agent(start_metadata()) as stack:
            report = await ChangeStorm(stack, seed=20261201).run(CI_CHANGES, turn_every=100)

    assert report.changes == CI_CHANGES and len(report.kinds) == 5
    refused = CI_CHANGES - report.kinds["new instructions"] - report.kinds["timing only"]
    assert logs.lines["input rejected"] >= refused  # one line per refused field or document
    # Before each turn the agent reported the last valid instructions, and the LLM got them.
    assert report.llm_versions == report.llm_expected
    assert report.llm_expected[-1] == report.last_valid > 0
    # Applied and published in order, never an older or a refused one.
    assert report.published_versions[-1] == report.last_valid
    assert report.backwards == 0
    assert report.unknown_publications == 0
    # Nothing accumulates with the changes: tasks (a few come and go with turns), the
    # project's own objects; the framework's chat history
    # grows by one entry per applied update (and a turn's messages), and the LLM is sent
    # the conversation, not that history.
    assert report.tasks_after <= report.tasks_before + 3, report.tasks_added  # a turn's own
    for name, count in report.own_objects_after.items():
        assert count <= report.own_objects_before.get(name, 0) + 2, name
    applied = len(set(report.published_versions))
    assert report.history_items_after - report.history_items_before <= applied + 3 * report.turns
    assert report.llm_messages[-1] <= 2 * report.turns + 1
