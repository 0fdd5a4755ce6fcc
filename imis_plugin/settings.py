"""Plugin settings kept in QGIS's own settings (never a password)."""
from qgis.core import QgsSettings

_PREFIX = "imis/"
DEFAULT_TIMEZONE = "Asia/Kathmandu"  # the IMIS v1.0.0 application time zone (DATABASE.md 2.4)


def _settings():
    return QgsSettings()


def connection_name():
    """Name of the QGIS saved PostgreSQL connection that holds the IMIS database."""
    return _settings().value(_PREFIX + "connection", "", type=str)


def set_connection_name(name):
    _settings().setValue(_PREFIX + "connection", name or "")


def imis_user_id():
    """auth.users id that edits are attributed to, or None until one is chosen."""
    value = _settings().value(_PREFIX + "user_id", None)
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def set_imis_user_id(user_id):
    _settings().setValue(_PREFIX + "user_id", "" if user_id is None else int(user_id))


def timezone():
    """Time zone IMIS writes its local timestamps in (a deployment setting)."""
    return _settings().value(_PREFIX + "timezone", DEFAULT_TIMEZONE, type=str) or DEFAULT_TIMEZONE


def set_timezone(name):
    _settings().setValue(_PREFIX + "timezone", name or DEFAULT_TIMEZONE)
