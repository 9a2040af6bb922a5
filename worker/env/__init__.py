"""Repository environments: the dependencies a repository's tests need, installed once in the
sandbox with network to the package indexes only, cached by what they depend on, and used (with
the network off) by every later run on that repository.

`detect` chooses the setup commands (`plan_setup`, `detect_setup`), `key` names the result,
`indexes` decides what of the host's package-index configuration a setup may see, `variables`
gives the environment variables of a setup and of the runs that use it, and `models` holds the
plan, the environment (`Environment.apply` turns a sandbox policy into one that uses it) and
the failure; `use` puts an environment in use for a stage's sandbox, and `services` the
operator's test services (forwards to a database or cache, and their variables). The engine itself
is the `Environments` port's adapter in `integrations/sandbox`.
Submodules are imported by name: importing this package pulls nothing in.
"""

from __future__ import annotations
