"""The timing lab: what each timing setting does to a real conversation, measured offline.

`plan` (settings sets x scenarios x pauses), `runner` (each session in a fresh process, one at a
time by default), `session` (one scenario spoken to the real agent, measured), `results` (the
figures), `report` (table, JSON, plot), `recording` (`--record`: WAV, timeline JSON and PNG per
session), `progress`, `cli` (`python -m voice_settings lab`), `api` (`run_lab(LabRequest(...))`:
the same from Python, without parsing output).
"""
