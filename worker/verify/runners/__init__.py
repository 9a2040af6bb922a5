"""Test runners as verification sees them: reading per-test outcomes from what a run printed
or wrote (one module per runner), narrowing a command to chosen tests, and which files each
runner treats as tests. `worker.verify.outcomes` is the entry point for reading outcomes.
"""
