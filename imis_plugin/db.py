"""Database access through QGIS's own connection settings.

Credentials stay with QGIS: a saved connection (by name), an authcfg resolved in memory by
the auth manager, or a pg_service entry passed on to libpq. The plugin never stores a
password. Values always travel as bound parameters.
"""
import threading

from qgis.core import QgsDataSourceUri, QgsProviderRegistry

try:
    import psycopg2
    import psycopg2.extensions
    from psycopg2 import sql  # noqa: F401  (re-exported for callers)
except ImportError:  # pragma: no cover - reported to the user by require_psycopg2()
    psycopg2 = None


class ImisDbError(Exception):
    """A database problem worth showing to the user as it is."""


class QueryCancelled(Exception):
    """The user cancelled while a query ran."""


def require_psycopg2():
    if psycopg2 is None:
        raise ImisDbError(
            "The Python package psycopg2 is not installed; IMIS database features need it "
            "(Debian/Ubuntu: apt install python3-psycopg2; Windows/macOS: it ships with QGIS)."
        )


def saved_connection_names():
    md = QgsProviderRegistry.instance().providerMetadata("postgres")
    return sorted(md.connections(False).keys())


def saved_connection_uri(name):
    """QgsDataSourceUri of the QGIS saved PostgreSQL connection called `name`."""
    md = QgsProviderRegistry.instance().providerMetadata("postgres")
    connections = md.connections(False)
    if name not in connections:
        known = ", ".join(sorted(connections)) or "none"
        raise ImisDbError(
            f"No saved PostgreSQL connection named '{name}' in QGIS (saved connections: {known})."
        )
    return QgsDataSourceUri(connections[name].uri())


def connect_kwargs(uri):
    """libpq keywords for a QgsDataSourceUri, with any authcfg expanded in memory only."""
    if not isinstance(uri, QgsDataSourceUri):
        uri = QgsDataSourceUri(uri)
    if uri.authConfigId():
        expanded = QgsDataSourceUri(uri.uri(True))
        if not expanded.username() and not expanded.password():
            raise ImisDbError(
                f"QGIS could not resolve the authentication configuration '{uri.authConfigId()}' "
                "(is the master password set?)."
            )
        uri = expanded
    kwargs = {
        "service": uri.service(),
        "host": uri.host(),
        "port": uri.port(),
        "dbname": uri.database(),
        "user": uri.username(),
        "password": uri.password(),
    }
    if uri.sslMode() not in (QgsDataSourceUri.SslPrefer,):
        kwargs["sslmode"] = QgsDataSourceUri.encodeSslMode(uri.sslMode())
    return {key: value for key, value in kwargs.items() if value}


def database_identity(uri):
    """What makes two layer sources the same database (without credentials)."""
    if not isinstance(uri, QgsDataSourceUri):
        uri = QgsDataSourceUri(uri)
    return (uri.service(), uri.host(), uri.port() or "5432", uri.database(), uri.authConfigId() or uri.username())


def connect_uri(uri, application_name="QGIS IMIS plugin"):
    require_psycopg2()
    kwargs = connect_kwargs(uri)
    try:
        return psycopg2.connect(application_name=application_name, connect_timeout=15, **kwargs)
    except psycopg2.OperationalError as error:
        where = kwargs.get("service") or f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 5432)}"
        message = str(error).strip().splitlines()[0] if str(error).strip() else "connection failed"
        raise ImisDbError(
            f"Cannot connect to the IMIS database '{kwargs.get('dbname', '')}' at {where}: {message}"
        ) from None


def connect_saved(name=None):
    """Connection to the saved QGIS connection `name` (default: the one chosen in settings)."""
    if name is None:
        from .settings import connection_name

        name = connection_name()
        if not name:
            raise ImisDbError("No IMIS database chosen yet: IMIS menu > IMIS database settings.")
    return connect_uri(saved_connection_uri(name))


def run_cancellable(cursor, query, params=None, feedback=None, poll_seconds=0.05):
    """Execute `query` with bound `params`; cancel it on the server when feedback is cancelled."""
    done = threading.Event()

    def watch():
        while not done.wait(poll_seconds):
            if feedback is not None and feedback.isCanceled():
                cursor.connection.cancel()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        cursor.execute(query, params)
    except psycopg2.extensions.QueryCanceledError:
        if feedback is not None and feedback.isCanceled():
            raise QueryCancelled("Cancelled by the user while the database query ran.") from None
        raise
    finally:
        done.set()
        watcher.join()
