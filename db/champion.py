"""Which model version serves: the "champion" alias, and the audit of every move.

Promotion is one transaction: the alias row changes and an `alias_changes` row says
when, from which version to which, on what evidence, and whether a person forced
it (with their reason). Rolling back is promoting the version that served before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from db import validation as check
from db.schema import AliasChange, ModelAlias, ModelVersion, utc_now

CHAMPION = "champion"


@dataclass(frozen=True)
class AliasTarget:
    """The model version an alias names."""

    model_version_id: int
    name: str
    weights_sha256: str
    changed_at: datetime


@dataclass(frozen=True)
class AliasMove:
    """One audit row: the alias moved from one version (None: it was unset) to another."""

    changed_at: datetime
    from_version_id: int | None
    from_name: str | None
    to_version_id: int
    to_name: str
    forced: bool
    reason: str | None
    evidence: dict[str, Any] | None


@dataclass(frozen=True)
class ServingChoice:
    """The model the app serves: the champion's weights, else the default model."""

    name: str
    weights: Path
    missing: Path | None = None  # the champion's weights file, when it cannot be found


def get_alias(session: Session, alias: str = CHAMPION) -> AliasTarget | None:
    """The version `alias` names, or None when it was never set."""
    row = session.execute(
        sa.select(ModelVersion.id, ModelVersion.name, ModelVersion.weights_sha256)
        .add_columns(ModelAlias.changed_at)
        .join(ModelAlias, ModelAlias.model_version_id == ModelVersion.id)
        .where(ModelAlias.alias == alias)
    ).first()
    return None if row is None else AliasTarget(int(row[0]), row[1], row[2], row[3])


def set_alias(
    session: Session,
    model_version_id: int,
    *,
    evidence: dict[str, Any] | None = None,
    forced: bool = False,
    reason: str | None = None,
    alias: str = CHAMPION,
) -> int | None:
    """Point `alias` at a version and write the audit row; the version it named before."""
    version = check.whole_number(model_version_id, "model_version_id")
    if forced and not (reason or "").strip():
        raise ValueError('a forced promotion needs a reason (--reason "...")')
    if session.get(ModelVersion, version) is None:
        raise ValueError(f"no model version with id {version}")
    current = session.get(ModelAlias, alias, with_for_update=True)
    previous = None if current is None else current.model_version_id
    if current is None:
        session.add(ModelAlias(alias=alias, model_version_id=version))
    else:
        current.model_version_id, current.changed_at = version, utc_now()
    session.add(
        AliasChange(
            alias=alias, from_version_id=previous, to_version_id=version,
            evidence=None if evidence is None else check.json_object(evidence, "evidence"),
            forced=forced, reason=(reason or "").strip() or None,
        )
    )  # fmt: skip
    session.flush()
    return previous


def alias_history(session: Session, alias: str = CHAMPION) -> list[AliasMove]:
    """Every move of `alias`, newest first."""
    before, after = aliased(ModelVersion), aliased(ModelVersion)
    columns = (
        AliasChange.changed_at, AliasChange.from_version_id, before.name,
        AliasChange.to_version_id, after.name, AliasChange.forced, AliasChange.reason,
        AliasChange.evidence,
    )  # fmt: skip
    rows = session.execute(
        sa.select(*columns)
        .outerjoin(before, before.id == AliasChange.from_version_id)
        .join(after, after.id == AliasChange.to_version_id)
        .where(AliasChange.alias == alias)
        .order_by(AliasChange.id.desc())
    ).all()
    return [AliasMove(*row) for row in rows]


def serving_choice(
    champion: AliasTarget | None, models_dir: Path, default_name: str
) -> ServingChoice:
    """The champion's weights when the alias is set and its file is there, else the default."""
    default = ServingChoice(default_name, models_dir / f"{default_name}.pt")
    if champion is None:
        return default
    weights = models_dir / f"{champion.name}.pt"
    if not weights.is_file():
        return ServingChoice(default.name, default.weights, missing=weights)
    return ServingChoice(champion.name, weights)
