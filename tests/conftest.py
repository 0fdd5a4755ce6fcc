"""Shared fixtures: a real PostGIS server, the sample town, real QGIS, the real plugin.

The plugin is imported from build/ (staged by `make build`), i.e. exactly what ships.
"""
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "build"
OUTPUT = Path(os.environ.get("IMIS_TEST_OUTPUT", REPO / "tests" / "output"))
SAMPLE_BUILDINGS = int(os.environ.get("IMIS_SAMPLE_BUILDINGS", "3000"))
SAMPLE_SEED = 7

for path in (str(BUILD), str(REPO)):
    if path not in sys.path:
        sys.path.insert(0, path)

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@dataclass
class SampleDb:
    server: object
    dbname: str
    dsn: str
    uri: str
    manifest: dict = field(default_factory=dict)

    def connect(self):
        import psycopg2

        return psycopg2.connect(self.dsn)

    def query(self, sql, params=None):
        """Rows of a read-only query (for oracles)."""
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            conn.close()


@pytest.fixture(scope="session")
def output_dir():
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


@pytest.fixture(scope="session")
def pg_server():
    from tests.support.pgserver import PgServer

    server = PgServer(port=int(os.environ.get("IMIS_TEST_PG_PORT", "55432"))).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sample_town():
    from sampledata.town import generate

    return generate(SAMPLE_BUILDINGS, seed=SAMPLE_SEED)


@pytest.fixture(scope="session")
def sample_db(pg_server, sample_town):
    """The sample town in PostGIS as a real IMIS database. Read-only: use `scratch_db` to write."""
    from sampledata.write_postgis import write_postgis

    dsn = pg_server.create_db("imis_sample")
    write_postgis(sample_town, dsn)
    # scratch_db copies this pristine template, which no session ever holds open.
    pg_server.create_db("imis_template", template="imis_sample")
    return SampleDb(pg_server, "imis_sample", dsn, pg_server.qgis_uri("imis_sample"),
                    json.loads(json.dumps(sample_town.manifest)))


@pytest.fixture
def scratch_db(pg_server, sample_db):
    """A private writable copy of the sample town database, dropped after the test."""
    name = "imis_scratch"
    dsn = pg_server.create_db(name, template="imis_template")
    yield SampleDb(pg_server, name, dsn, pg_server.qgis_uri(name), sample_db.manifest)
    import psycopg2
    from psycopg2 import sql

    conn = psycopg2.connect(pg_server.dsn())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    conn.close()


@pytest.fixture(scope="session")
def sample_gpkg(sample_town, tmp_path_factory):
    from sampledata.write_gpkg import write_gpkg

    path = tmp_path_factory.mktemp("town") / "imis_sample_town.gpkg"
    write_gpkg(sample_town, str(path))
    return path


def save_qgis_connection(name, uri):
    """Save a PostgreSQL connection in QGIS's settings, as a user would in the browser."""
    from qgis.core import QgsProviderRegistry

    md = QgsProviderRegistry.instance().providerMetadata("postgres")
    # saveUsername: the server's role is not the OS user running the tests (no password is saved).
    md.saveConnection(md.createConnection(uri, {"saveUsername": True}), name)
    return name


@pytest.fixture(scope="session")
def saved_connection(qgis_app, sample_db):
    """Name of a QGIS saved connection to the sample database."""
    return save_qgis_connection("IMIS sample town", sample_db.uri)


@pytest.fixture(scope="session")
def imis_package():
    if not (BUILD / "imis" / "metadata.txt").exists():
        pytest.fail("build/imis is missing: run `make build` (make test does it).")
    import imis

    assert Path(imis.__file__).resolve().parent == (BUILD / "imis").resolve(), "tests must import the built package"
    return imis


_PROVIDERS_KEPT_ALIVE = []


@pytest.fixture
def imis_provider(qgis_app, qgis_processing, imis_package):
    """The imis Processing provider registered in the session's QGIS (as initProcessing does)."""
    from qgis.core import QgsApplication

    registry = QgsApplication.processingRegistry()
    provider = registry.providerById("imis")
    if provider is None:
        from imis.imis_plugin.provider import ImisProvider

        provider = ImisProvider()
        registry.addProvider(provider)
        # The registry does not keep the Python object alive: without this reference the
        # provider's Python half is collected after the first test and its algorithms vanish.
        _PROVIDERS_KEPT_ALIVE.append(provider)
    return provider


@pytest.fixture
def imis_plugin(qgis_app, qgis_iface, qgis_processing, imis_package):
    """The real plugin, created by classFactory and started with a real iface; unloaded after."""
    from qgis.core import QgsApplication

    registry = QgsApplication.processingRegistry()
    existing = registry.providerById("imis")
    if existing is not None:
        registry.removeProvider(existing)
    plugin = imis_package.classFactory(qgis_iface)
    plugin.initGui()
    yield plugin
    plugin.unload()


@pytest.fixture
def clean_project(qgis_app):
    from qgis.core import QgsProject

    QgsProject.instance().clear()
    yield QgsProject.instance()
    QgsProject.instance().clear()
