"""Previews of the base and fixed commits and the evidence gathered on them: how a service is
previewed (`settings`, `models`), replaying the failing request (`replay`, built by `rebuild`
with placeholders from `standins`) and the records of what came back (`evidence`)."""
