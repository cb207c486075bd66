"""R4's count holds a BC's row against other admissions for that BC, and nothing else: on
PostgreSQL an approval granting that BC a shop (R14) goes ahead while an admission holds
the row. With the row locked FOR UPDATE, the grant's foreign-key check waited for the
admission's transaction, and an admission and an approval for one BC deadlocked (the
production-shape bench found it: docs/performance.md)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, insert, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from models.enums import Permission, Relationship
from models.tables import ShopGrant
from store.people import require_bc
from tests.conftest import load_demo

GRANTS = ShopGrant.__table__  # type: ignore[attr-defined]


@pytest.mark.postgres
def test_r4_an_admission_holding_a_bc_does_not_block_a_grant_to_it(
    postgres_engine: Engine,
) -> None:
    load_demo(postgres_engine)
    with Session(postgres_engine) as admitting:
        bc_id = int(
            admitting.connection().execute(text("SELECT min(id) FROM business_center")).scalar_one()
        )
        shop_id = int(admitting.connection().execute(text("SELECT min(id) FROM shop")).scalar_one())
        require_bc(admitting, bc_id, lock=True)  # as admission does, for R4's count
        with postgres_engine.connect() as granting:
            # A bound, not a measure: blocked behind the admission, the insert would
            # fail with lock_not_available instead of hanging the suite.
            granting.execute(text("SET lock_timeout = '20s'"))
            granted = granting.execute(
                insert(GRANTS)
                .values(
                    bc_id=bc_id,
                    shop_id=shop_id,
                    relationship=Relationship.PARTNER.value,
                    permission=Permission.AD_PROMOTION.value,
                    source_request_id="req_lock_probe",
                )
                .returning(GRANTS.c.id)
            ).scalar_one()
            assert granted is not None
            granting.rollback()
        # The admission's own lock is still a lock: a second admission for the BC waits.
        with postgres_engine.connect() as second:
            second.execute(text("SET lock_timeout = '100ms'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                second.execute(
                    text("SELECT id FROM business_center WHERE id = :id FOR NO KEY UPDATE"),
                    {"id": bc_id},
                )
            second.rollback()
        admitting.rollback()
