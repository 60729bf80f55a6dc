"""The SQL that keeps `prediction_stats` equal to the labelled rows: its triggers, on both
databases, and the statement that fills it from the rows.

Shared by the migrations that create the summary (0003) and that teach it to count
unsure answers (0006), so each revision's triggers are spelled once: `counts_unsure`
says which revision's cells these are.

A cell is (UTC day, model version, true label, predicted digit, confidence bin);
confidence bin b of `BINS` holds [b/BINS, (b+1)/BINS), 1.0 in the last, found by
comparisons with the bin edges (the calibration_bins view's form).
"""

from __future__ import annotations

BINS = 20
KEY = ("day", "model_version_id", "true_label", "predicted_digit", "confidence_bin")
# The columns whose change moves a labelled row between cells (or, from 0006, changes
# what its cell counts).
MOVING_COLUMNS = "true_label, predicted_digit, confidence, created_at, model_version_id"
# (name, event without its column list, condition): only rows that are or were
# labelled touch the summary.
TRIGGERS = (
    ("insert", "INSERT", "NEW.true_label IS NOT NULL"),
    ("update", "UPDATE OF", "OLD.true_label IS NOT NULL OR NEW.true_label IS NOT NULL"),
    ("delete", "DELETE", "OLD.true_label IS NOT NULL"),
)


def _bin(row: str) -> str:
    """The confidence bin of `row`'s (NEW or OLD) confidence, as SQL."""
    edges = " ".join(
        f"WHEN {row}.confidence >= {b / BINS!r} THEN {b}" for b in range(BINS - 1, 0, -1)
    )
    return f"CASE {edges} ELSE 0 END"


def _day(row: str, dialect: str) -> str:
    if dialect == "postgresql":
        return f"CAST(timezone('UTC', {row}.created_at) AS DATE)"
    return f"date({row}.created_at)"


def cell(row: str, dialect: str) -> list[str]:
    """The values of KEY for `row`."""
    return [
        _day(row, dialect),
        f"{row}.model_version_id",
        f"{row}.true_label",
        f"{row}.predicted_digit",
        _bin(row),
    ]


def _unsure(row: str) -> str:
    """1 when `row` was answered unsure, else 0, as SQL."""
    return f"CASE WHEN {row}.unsure THEN 1 ELSE 0 END"


def _matches(row: str, dialect: str) -> str:
    return " AND ".join(
        f"{column} = {value}" for column, value in zip(KEY, cell(row, dialect), strict=True)
    )


def _add(row: str, dialect: str, counts_unsure: bool, where: str = "") -> str:
    columns = [*KEY, "n", "confidence_sum"] + (["unsure_n"] if counts_unsure else [])
    values = [*cell(row, dialect), "1", f"{row}.confidence"]
    values += [_unsure(row)] if counts_unsure else []
    source = (
        f"SELECT {', '.join(values)} WHERE {where}" if where else f"VALUES ({', '.join(values)})"
    )
    updates = (
        "n = prediction_stats.n + 1, "
        "confidence_sum = prediction_stats.confidence_sum + excluded.confidence_sum"
    )
    updates += ", unsure_n = prediction_stats.unsure_n + excluded.unsure_n" if counts_unsure else ""
    return (
        f"INSERT INTO prediction_stats ({', '.join(columns)}) {source} "
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {updates}"
    )


def _take_back(row: str, dialect: str, counts_unsure: bool, where: str = "TRUE") -> list[str]:
    matches = _matches(row, dialect)
    unsure = f", unsure_n = unsure_n - {_unsure(row)}" if counts_unsure else ""
    return [
        f"UPDATE prediction_stats SET n = n - 1, confidence_sum = confidence_sum - "
        f"{row}.confidence{unsure} WHERE {where} AND {matches}",
        f"DELETE FROM prediction_stats WHERE {where} AND n <= 0 AND {matches}",
    ]


def _events(counts_unsure: bool) -> list[tuple[str, str, str]]:
    """TRIGGERS with the update's column list: `unsure` too once the cells count it."""
    columns = MOVING_COLUMNS + (", unsure" if counts_unsure else "")
    return [
        (name, f"{event} {columns}" if event == "UPDATE OF" else event, condition)
        for name, event, condition in TRIGGERS
    ]


def postgresql_triggers(counts_unsure: bool) -> list[str]:
    """The trigger function (SECURITY DEFINER: the app role cannot write the table) and
    its three triggers."""
    take_back = ";\n    ".join(_take_back("OLD", "postgresql", counts_unsure))
    function = f"""
CREATE FUNCTION prediction_stats_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.true_label IS NOT NULL THEN
    {take_back};
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.true_label IS NOT NULL THEN
    {_add("NEW", "postgresql", counts_unsure)};
  END IF;
  RETURN NULL;
END
$$"""
    return [function] + [
        f"CREATE TRIGGER prediction_stats_{name} AFTER {event} ON predictions FOR EACH ROW "
        f"WHEN ({condition}) EXECUTE FUNCTION prediction_stats_apply()"
        for name, event, condition in _events(counts_unsure)
    ]


def sqlite_triggers(counts_unsure: bool) -> list[str]:
    def body(statements: list[str]) -> str:
        return "BEGIN\n  " + ";\n  ".join(statements) + ";\nEND"

    bodies = {
        "insert": [_add("NEW", "sqlite", counts_unsure)],
        "update": [
            *_take_back("OLD", "sqlite", counts_unsure, "OLD.true_label IS NOT NULL"),
            _add("NEW", "sqlite", counts_unsure, "NEW.true_label IS NOT NULL"),
        ],
        "delete": _take_back("OLD", "sqlite", counts_unsure),
    }
    return [
        f"CREATE TRIGGER prediction_stats_{name} AFTER {event} ON predictions FOR EACH ROW "
        f"WHEN {condition} {body(bodies[name])}"
        for name, event, condition in _events(counts_unsure)
    ]


def create_triggers(dialect: str, counts_unsure: bool) -> list[str]:
    if dialect == "postgresql":
        return postgresql_triggers(counts_unsure)
    return sqlite_triggers(counts_unsure)


def drop_triggers(dialect: str) -> list[str]:
    postgresql = dialect == "postgresql"
    drops = [
        f"DROP TRIGGER prediction_stats_{name}" + (" ON predictions" if postgresql else "")
        for name, _event, _condition in TRIGGERS
    ]
    return drops + (["DROP FUNCTION prediction_stats_apply()"] if postgresql else [])


def fill_from_rows(dialect: str, counts_unsure: bool) -> str:
    """INSERT of every cell of the labelled rows already there (the table empty before)."""
    columns = [*KEY, "n", "confidence_sum"] + (["unsure_n"] if counts_unsure else [])
    keys = ", ".join(cell("p", dialect))
    unsure = f", SUM({_unsure('p')})" if counts_unsure else ""
    return (
        f"INSERT INTO prediction_stats ({', '.join(columns)}) "
        f"SELECT {keys}, COUNT(*), SUM(p.confidence){unsure} FROM predictions AS p "
        f"WHERE p.true_label IS NOT NULL GROUP BY {keys}"
    )
