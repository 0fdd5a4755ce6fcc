"""public.revisions rows exactly as IMIS's venturecraft/revisionable writes them (EDITING.md §9).

Pure: the writer passes each audited row before and after the save as {column: (value, text)},
where value is what psycopg2 returned and text is PostgreSQL's own text form of the column.
"""
import datetime
from decimal import Decimal

CLASS_NAMES = {
    "buildings": "App\\Models\\BuildingInfo\\Building",
    "owners": "App\\Models\\BuildingInfo\\Owner",
    "containments": "App\\Models\\Fsm\\Containment",
}
# updated_at changes with every save and gets no row; deleted_at gets its own row on delete.
NOT_AUDITED = frozenset({"updated_at", "deleted_at"})


def timestamp_text(moment):
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def value_text(value, pg_text):
    """Text IMIS stores for a value: booleans as 1/0, NULL as SQL NULL, the rest as PostgreSQL prints it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime.datetime):
        return timestamp_text(value)
    return pg_text


def same_value(old, new):
    """Typed comparison: 2 and 2.00, true and 1 are the same value and get no revision row."""
    if old is None or new is None:
        return old is None and new is None
    if isinstance(old, (bool, int, float, Decimal)) and isinstance(new, (bool, int, float, Decimal)):
        return Decimal(str(old)) == Decimal(str(new)) if not isinstance(old, bool) and not isinstance(new, bool) \
            else int(old) == int(new)
    return old == new


def _row(table, key, user_id, column, old_text, new_text, now):
    return {
        "revisionable_type": CLASS_NAMES[table],
        "revisionable_id": str(key),
        "user_id": user_id,
        "key": column,
        "old_value": old_text,
        "new_value": new_text,
        "created_at": now,
        "updated_at": now,
    }


def creation_rows(table, key, created_at, user_id, now):
    return [_row(table, key, user_id, "created_at", None, timestamp_text(created_at), now)]


def deletion_rows(table, key, deleted_at, user_id, now):
    return [_row(table, key, user_id, "deleted_at", None, timestamp_text(deleted_at), now)]


def update_rows(table, key, before, after, user_id, now):
    """One row per column whose value really changed, in column order of `after`."""
    rows = []
    for column, (new_value, new_text) in after.items():
        if column in NOT_AUDITED or column not in before:
            continue
        old_value, old_text = before[column]
        if isinstance(new_value, (bytes, memoryview)) or column == "geom":
            changed = old_text != new_text
        else:
            changed = not same_value(old_value, new_value)
        if changed:
            rows.append(_row(table, key, user_id, column, value_text(old_value, old_text),
                             value_text(new_value, new_text), now))
    return rows
