"""Scale-out without duplicates: three worker processes on one broker (Redis, then RabbitMQ)
take thirty distinct clusters from webhook to ticket; no run enters a state twice and the
GitHub stand-in receives exactly one issue per cluster. Timing is measured by
`bench/scaleout/run.py`, not asserted here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.scaleout.brokers import broker_environment
from bench.scaleout.harness import Deployment, github_standin, measure
from integrations.standins.github import GitHubStandIn
from tests.brokers import BROKERS
from tests.conftest import _reset_postgres

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
WORKERS, CLUSTERS = 3, 30


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with github_standin() as standin:
        yield standin


@pytest.mark.parametrize("broker", BROKERS)
def test_three_workers_file_thirty_clusters_each_once(broker, tmp_path, postgres_database,
                                                      github):
    _reset_postgres(postgres_database)
    with broker_environment(broker) as environment:
        deployment = Deployment(tmp_path, postgres_database, environment, github,
                                worker_threads=2)
        try:
            deployment.up(WORKERS)
            outcome = measure(deployment, broker, WORKERS, CLUSTERS, timeout=300)
        finally:
            deployment.stop()
    assert outcome.runs == CLUSTERS
    assert outcome.repeated_states == []
    assert outcome.tickets == outcome.markers == CLUSTERS
    assert outcome.repeated_tickets == []
    # the load was shared: more than one process filed tickets
    busy = [path for path in deployment.worker_logs if b"-> ticketed" in path.read_bytes()]
    assert len(busy) >= 2
