"""The timing lab: what each timing setting does to a real conversation, measured offline.

`plan` (settings sets x scenarios x pauses), `runner` (each session in a fresh process),
`session` (one scenario spoken to the real agent, measured), `results` (the figures),
`report` (table, JSON, plot), `cli` (`python -m voice_settings lab`).
"""
