"""IMIS audit rows (public.revisions), written in the same transaction as the change.

EDITING.md §9: one row per changed column, values in the text form the web stack writes,
times in the IMIS time zone, whole seconds. Link tables are not audited.
"""
import datetime
from decimal import Decimal

BUILDING = "App\\Models\\BuildingInfo\\Building"
OWNER = "App\\Models\\BuildingInfo\\Owner"
CONTAINMENT = "App\\Models\\Fsm\\Containment"

_INSERT = (
    "INSERT INTO public.revisions "
    "(revisionable_type, revisionable_id, user_id, key, old_value, new_value, created_at, updated_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)


def local_now(timezone_name):
    """Current wall-clock time in the IMIS time zone, naive, whole seconds (never UTC)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"Unknown IMIS time zone '{timezone_name}' (IMIS menu > IMIS database settings)."
        ) from None
    return datetime.datetime.now(zone).replace(tzinfo=None, microsecond=0)


def value_text(value):
    """Text form of a value as IMIS's revisions store it (§9.4); None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def write_revisions(cursor, revisionable_type, revisionable_id, user_id, changes, when):
    """Insert one revisions row per (key, old_text, new_text) in `changes` whose texts differ.

    Callers compare typed values first (2 and 2.00 are the same value); texts here are final.
    Returns the number of rows written.
    """
    rows = [
        (revisionable_type, str(revisionable_id), user_id, key, old, new, when, when)
        for key, old, new in changes
        if old != new
    ]
    if rows:
        cursor.executemany(_INSERT, rows)
    return len(rows)
