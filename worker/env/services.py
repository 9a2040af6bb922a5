"""Test services: the databases and caches a service's tests need (PostgreSQL, Redis), reached
from the sandbox through a forward to one declared host:port each, with the environment
variables the tests read.

Off unless the operator declares them on a service (`ServiceSettings.test_services`). They are
settings only, never read from a repository's `.suture.yml`: a forward opens a network path out
of the sandbox, and a repository must not be able to point the sandbox at hosts of its choosing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from worker.fix.models import (
    PROXY_PORT,
    CommandResult,
    Forward,
    HostOrAddress,
    SandboxPolicy,
    Served,
)
from worker.ports import Sandbox

VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TestService(BaseModel):
    """One service the tests need, e.g. `{"name": "redis", "host": "127.0.0.1", "port": 6379,
    "env": {"REDIS_URL": "redis://127.0.0.1:6379/0"}}`.

    Inside the sandbox `127.0.0.1:port` (and `host:port`, when `host` is a name) reaches
    `host:port` as the worker sees it, and the tests get `env`. Only the operator's settings
    declare these (see the module docstring)."""

    __test__: ClassVar[bool] = False  # not a pytest test class
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    host: HostOrAddress
    port: int = Field(ge=1024, le=65535,
                      description="the service's port, and the same port inside the sandbox")
    env: dict[str, str] = Field(default_factory=dict,
                                description="variables the tests read, e.g. DATABASE_URL")

    @field_validator("port")
    @classmethod
    def _not_the_proxys(cls, value: int) -> int:
        if value == PROXY_PORT:
            raise ValueError(f"{PROXY_PORT} is the sandbox's egress proxy port")
        return value

    @field_validator("env")
    @classmethod
    def _variable_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not VARIABLE.fullmatch(name) or "\0" in text:
                raise ValueError(f"{name!r} is not a usable environment variable")
        return value

    def forward(self) -> Forward:
        """The sandbox forward that reaches this service."""
        return Forward(port=self.port, target_host=self.host, target_port=self.port)


def _distinct(services: list[TestService]) -> list[TestService]:
    for attribute in ("name", "port"):
        values = [getattr(service, attribute) for service in services]
        if len(set(values)) != len(values):
            raise ValueError(f"two test services have the same {attribute}")
    return services


TestServices = Annotated[list[TestService], AfterValidator(_distinct)]


def services_policy(policy: SandboxPolicy, services: Sequence[TestService]) -> SandboxPolicy:
    """`policy` with the services' forwards added and their variables set (over its own)."""
    if not services:
        return policy
    env = dict(policy.env)
    for service in services:
        env |= service.env
    return policy.model_copy(update={
        "forwards": [*policy.forwards, *(service.forward() for service in services)],
        "env": env})


class ServicesSandbox:
    """A `Sandbox` whose every run reaches `services` (`services_policy`). Wrapped around an
    environment's sandbox, the environment's own variables win. The audit is the wrapped
    sandbox's."""

    def __init__(self, sandbox: Sandbox, services: Sequence[TestService]) -> None:
        self.sandbox = sandbox
        self.services = list(services)

    def run(self, worktree: Path, argv: list[str], policy: SandboxPolicy,
            stdin: str | None = None) -> CommandResult:
        """Run `argv` as the wrapped sandbox does, with the services added to `policy`."""
        return self.sandbox.run(worktree, argv, services_policy(policy, self.services), stdin)

    def serve(self, worktree: Path, argv: list[str], policy: SandboxPolicy,
              port: int) -> AbstractContextManager[Served]:
        """Serve `argv` as the wrapped sandbox does, with the services added to `policy`."""
        return self.sandbox.serve(worktree, argv, services_policy(policy, self.services), port)

    @property
    def audit(self) -> list[CommandResult]:
        """Every command the wrapped sandbox ran, in order."""
        return self.sandbox.audit


def with_test_services(sandbox: Sandbox, services: Sequence[TestService]) -> Sandbox:
    """`sandbox`, with `services` reachable from every run when any are declared."""
    return ServicesSandbox(sandbox, services) if services else sandbox
