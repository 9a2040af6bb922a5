"""Webhook deliveries as the store keeps them: accepted once per body, then processed, ignored
or failed with a reason, and re-sent by the reconciler while still pending."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from worker.models import Delivery
from worker.store.tables import DeliveryRow
from worker.store.upsert import insert_ignoring_conflict


class Deliveries:
    """The store's methods for deliveries (mixed into `SqlStore`)."""

    _clock: Callable[[], datetime]
    session: Callable[[], AbstractContextManager[Session]]

    def add_delivery(
        self, source: str, kind: str, body: bytes, payload: dict[str, Any]
    ) -> tuple[int, bool]:
        """Keep an accepted payload; returns (id, created). The same body twice is one delivery."""
        digest = hashlib.sha256(body).hexdigest()
        now = self._clock()
        with self.session() as session:
            created = insert_ignoring_conflict(session, DeliveryRow, {
                "source": source, "kind": kind, "body_sha256": digest, "payload": payload,
                "status": "pending", "reason": "", "attempts": 0,
                "received_at": now, "updated_at": now,
            })
            delivery_id = session.scalars(select(DeliveryRow.id).where(
                DeliveryRow.source == source, DeliveryRow.body_sha256 == digest)).one()
        return delivery_id, created

    def get_delivery(self, delivery_id: int) -> Delivery | None:
        """A delivery by id."""
        with self.session() as session:
            row = session.get(DeliveryRow, delivery_id)
            return None if row is None else Delivery.model_validate(row, from_attributes=True)

    def start_delivery(self, delivery_id: int) -> int:
        """Count one processing attempt; returns the attempt number (0 for a delivery already
        finished: a duplicate message for it is no attempt, and must not fail it)."""
        with self.session() as session:
            row = session.get(DeliveryRow, delivery_id, with_for_update=True)
            if row is None or row.status != "pending":
                return 0
            row.attempts += 1
            row.updated_at = self._clock()
            return row.attempts

    def finish_delivery(self, delivery_id: int, status: str, reason: str = "") -> None:
        """Mark a delivery processed, ignored or failed, with the reason."""
        with self.session() as session:
            session.execute(update(DeliveryRow).where(DeliveryRow.id == delivery_id).values(
                status=status, reason=reason, updated_at=self._clock()))

    def pending_deliveries(self, older_than: datetime) -> list[int]:
        """Deliveries still pending that were last touched before `older_than`."""
        with self.session() as session:
            return list(session.scalars(select(DeliveryRow.id).where(
                DeliveryRow.status == "pending", DeliveryRow.updated_at < older_than)
                .order_by(DeliveryRow.id)))

    def count_deliveries(self) -> int:
        """How many deliveries were ever accepted."""
        with self.session() as session:
            return len(session.scalars(select(DeliveryRow.id)).all())
