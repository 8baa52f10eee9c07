"""The shipped price list (``ai/data/prices.json``) and loading it into :class:`ModelPrice`.

Loading is idempotent: a row is identified by (provider, model, valid_from); a shipped row that
differs from the file is updated, a row an administrator edited (``source="admin"``) is kept
unless ``force``. Nothing here touches the network. Used by ``ai_load_prices`` and the data
migration that seeds a fresh database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

DEFAULT_PRICE_FILE = Path(__file__).resolve().parent.parent / "data" / "prices.json"


class PriceFileError(ValueError):
    """The price file is unreadable or an entry is invalid (the message names the entry)."""


@dataclass(frozen=True, slots=True)
class PriceSpec:
    provider: str
    model: str
    input: Decimal
    output: Decimal
    cached_input: Decimal | None
    valid_from: datetime
    note: str = ""


@dataclass(slots=True)
class LoadResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_admin: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.kept_admin)} admin-edited kept"
        )


def _decimal(entry: dict[str, Any], key: str, where: str, *, optional: bool = False) -> Any:
    value = entry.get(key)
    if value is None and optional:
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise PriceFileError(f"{where}: {key!r} must be a decimal number, got {value!r}") from None
    if number < 0:
        raise PriceFileError(f"{where}: {key!r} must not be negative")
    return number


def _valid_from(value: Any, where: str) -> datetime:
    try:
        if isinstance(value, str) and len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise PriceFileError(f"{where}: 'valid_from' must be an ISO date, got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_price_file(path: str | Path | None = None) -> list[PriceSpec]:
    """The entries of a price file, validated."""
    path = Path(path) if path else DEFAULT_PRICE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise PriceFileError(f"Cannot read price file {path}: {err}") from err
    entries = data.get("prices") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise PriceFileError(f"{path}: expected an object with a 'prices' list")
    specs = []
    for i, entry in enumerate(entries):
        where = f"{path.name} prices[{i}]"
        if not isinstance(entry, dict) or not entry.get("provider") or not entry.get("model"):
            raise PriceFileError(f"{where}: 'provider' and 'model' are required")
        specs.append(
            PriceSpec(
                provider=str(entry["provider"]),
                model=str(entry["model"]),
                input=_decimal(entry, "input", where),
                output=_decimal(entry, "output", where),
                cached_input=_decimal(entry, "cached_input", where, optional=True),
                valid_from=_valid_from(entry.get("valid_from"), where),
                note=str(entry.get("note", ""))[:200],
            )
        )
    return specs


def apply_prices(
    specs: list[PriceSpec],
    model_class: Any = None,
    *,
    force: bool = False,
    dry_run: bool = False,
) -> LoadResult:
    """Upsert ``specs`` into the price table. ``model_class`` lets a migration pass its
    historical model. Saves row by row so the price caches are invalidated by signal."""
    if model_class is None:
        from ai.models import ModelPrice as model_class
    result = LoadResult()
    for spec in specs:
        label = f"{spec.provider}/{spec.model}@{spec.valid_from:%Y-%m-%d}"
        values = {
            "input_per_mtok": spec.input,
            "output_per_mtok": spec.output,
            "cached_input_per_mtok": spec.cached_input,
            "note": spec.note,
        }
        row = model_class.objects.filter(
            provider=spec.provider, model=spec.model, valid_from=spec.valid_from
        ).first()
        if row is None:
            result.created.append(label)
            if not dry_run:
                model_class.objects.create(
                    provider=spec.provider,
                    model=spec.model,
                    valid_from=spec.valid_from,
                    source="shipped",
                    **values,
                )
            continue
        if row.source != "shipped" and not force:
            result.kept_admin.append(label)
            continue
        changed = row.source != "shipped" or any(
            _differs(getattr(row, name), value) for name, value in values.items()
        )
        if not changed:
            result.unchanged.append(label)
            continue
        result.updated.append(label)
        if not dry_run:
            for name, value in values.items():
                setattr(row, name, value)
            row.source = "shipped"
            row.save()
    return result


def _differs(current: Any, new: Any) -> bool:
    if isinstance(new, Decimal) and current is not None:
        return Decimal(current) != new
    return current != new
