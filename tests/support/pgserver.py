"""A throwaway PostgreSQL + PostGIS server in a temporary directory.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
It listens only on a Unix socket inside its own directory and is removed on stop().
"""
import os
import shutil
import subprocess
import tempfile
import time

PG_BIN = os.environ.get("IMIS_PG_BIN", "/usr/lib/postgresql/15/bin")


def _as_server_user(cmd):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + cmd
    return cmd


class PgServer:
    def __init__(self, port=55432, directory=None, durable=False):
        """A server in a new temporary directory, or kept in `directory` across runs (benchmarks)."""
        self.port = port
        self.persistent = directory is not None
        # Tests trade durability for speed; benchmarks keep PostgreSQL's defaults so commit costs are real.
        self.durable = durable
        if directory is None:
            self.dir = tempfile.mkdtemp(prefix="imis-pg-")
        else:
            self.dir = os.path.abspath(directory)
            os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o777)
        self.data = os.path.join(self.dir, "data")
        self.user = "postgres"

    def start(self):
        if not os.path.exists(os.path.join(self.data, "PG_VERSION")):
            self._initdb()
        self._start()
        return self

    def _initdb(self):
        subprocess.run(
            _as_server_user([f"{PG_BIN}/initdb", "-D", self.data, "-U", self.user, "--auth=trust", "-E", "UTF8",
                             "--locale=C.UTF-8"]),
            check=True, stdout=subprocess.DEVNULL,
        )

    def _start(self):
        options = (
            f"-c listen_addresses='' -c unix_socket_directories={self.dir} -p {self.port} "
            "-c shared_buffers=512MB -c work_mem=64MB -c maintenance_work_mem=256MB -c max_connections=50"
        )
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run(
            _as_server_user([f"{PG_BIN}/pg_ctl", "-D", self.data, "-o", options, "-l",
                             os.path.join(self.dir, "server.log"), "-w", "start"]),
            check=True, stdout=subprocess.DEVNULL,
        )

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            subprocess.run(_as_server_user([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "fast" if self.persistent else "immediate", "-w", "stop"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not self.persistent:
            shutil.rmtree(self.dir, ignore_errors=True)

    def database_exists(self, dbname):
        import psycopg2

        conn = psycopg2.connect(self.dsn())
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
                return cur.fetchone() is not None
        finally:
            conn.close()

    def dsn(self, dbname="postgres"):
        return f"host={self.dir} port={self.port} user={self.user} dbname={dbname}"

    def qgis_uri(self, dbname):
        """QGIS data source URI (connection part) for `dbname`."""
        return f"host={self.dir} port={self.port} user={self.user} dbname='{dbname}'"

    def create_db(self, dbname, template=None):
        import psycopg2
        from psycopg2 import sql

        conn = psycopg2.connect(self.dsn())
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
            if template:
                # A template must have no other sessions while it is copied.
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    (template,),
                )
                cur.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(dbname), sql.Identifier(template)))
            else:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        conn.close()
        return self.dsn(dbname)

    def wait(self, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if subprocess.run([f"{PG_BIN}/pg_isready", "-h", self.dir, "-p", str(self.port)],
                              stdout=subprocess.DEVNULL).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not start")
