"""`make bench`: build the Khulna-size town once (cached), then time each job as a whole process.

    .venv/bin/python bench/run.py [JOB ...] [--repeat N] [--list]

Jobs are the scripts in bench/jobs/. Each prints its own figures (medians inside one running
QGIS, start-up excluded, against the stock-QGIS way timed alike) and a BENCH-RESULT line; this
runner adds the whole-process wall time and peak memory, keeps every job's latest result in
bench/results.json and rewrites bench/RESULTS.md with the machine the figures came from.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.support.pgserver import PgServer  # noqa: E402

CACHE = REPO / "bench" / "cache"
JOBS = REPO / "bench" / "jobs"
RESULTS_JSON = REPO / "bench" / "results.json"
RESULTS_MD = REPO / "bench" / "RESULTS.md"
DBNAME = "imis_khulna"
KHULNA_BUILDINGS = 156052


def machine():
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = {}
    try:
        from qgis.core import Qgis

        versions["QGIS"] = Qgis.QGIS_VERSION
    except ImportError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_gib, 1),
            "os": platform.platform(), "python": platform.python_version(), **versions}


def ensure_town(server):
    gpkg = CACHE / "khulna.gpkg"
    dsn = server.dsn(DBNAME)
    loaded = False
    if server.database_exists(DBNAME):
        import psycopg2

        conn = psycopg2.connect(dsn)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT to_regclass('building_info.buildings') IS NOT NULL")
                if cur.fetchone()[0]:
                    cur.execute("SELECT count(*) FROM building_info.buildings")
                    loaded = cur.fetchone()[0] == KHULNA_BUILDINGS
        finally:
            conn.close()
    args = [sys.executable, "-m", "sampledata", "--khulna"]
    if not loaded:
        server.create_db(DBNAME)
        args += ["--pg", dsn]
    if not gpkg.exists():
        args += ["--gpkg", str(gpkg)]
    if len(args) > 4:  # more than the bare "python -m sampledata --khulna"
        print("building the Khulna-size town (cached in bench/cache) …", flush=True)
        started = time.time()
        subprocess.run(args, cwd=REPO, check=True)
        print(f"  built in {time.time() - started:.0f} s", flush=True)
    with_pg_version(server)
    return dsn, server.qgis_uri(DBNAME), gpkg


def with_pg_version(server):
    import psycopg2

    conn = psycopg2.connect(server.dsn())
    with conn.cursor() as cur:
        cur.execute("SHOW server_version")
        server.version = cur.fetchone()[0]
    conn.close()


def run_job(path, env):
    print(f"== {path.stem}", flush=True)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(path)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    result = None
    for line in proc.stdout:
        if line.startswith("BENCH-RESULT "):
            result = json.loads(line[len("BENCH-RESULT "):])
        else:
            print("   " + line.rstrip(), flush=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if result is None:
        result = {"job": path.stem, "rows": [], "notes": f"failed (exit status {status})"}
    result["process_wall_s"] = round(wall, 1)
    result["process_peak_rss_mib"] = round(usage.ru_maxrss / 1024.0, 1)
    result["ok"] = status == 0
    return result


def write_markdown(results, info):
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (bench/run.py): Khulna-size sample town (156,052 buildings), cached in",
        "bench/cache. Each figure is the median of repeated runs inside one running QGIS (start-up",
        "excluded); the stock-QGIS way of the same job is timed alike in the same process, so ratios",
        "come from one run. Machines are noisy: compare ratios, not absolute seconds across machines.",
        "",
    ]
    for name in sorted(results):
        res = results[name]
        m = res.get("machine", info)
        lines += [f"## {name}", "",
                  f"Run {res.get('date', '?')} on {m.get('cpu')} ({m.get('cores')} cores, {m.get('memory_gib')} GiB), "
                  f"QGIS {m.get('QGIS', '?')}, PostgreSQL {m.get('postgresql', '?')}; repeats: {res.get('repeat', '?')}; "
                  f"whole process {res.get('process_wall_s')} s, peak memory {res.get('process_peak_rss_mib')} MiB"
                  + ("" if res.get("ok", True) else " — **the job failed**") + ".", ""]
        rows = res.get("rows", [])
        if rows:
            lines += ["| case | ours (s) | stock QGIS (s) | ratio | target |", "|---|---|---|---|---|"]
            for row in rows:
                stock = row.get("stock_s")
                ratio = f"{stock / row['ours_s']:.1f}x" if stock and row["ours_s"] else "—"
                lines.append(f"| {row['case']} | {row['ours_s']:.3f} | {'—' if stock is None else f'{stock:.3f}'} "
                             f"| {ratio} | {row.get('target', '')} |")
            lines.append("")
        if res.get("notes"):
            lines += [res["notes"], ""]
    RESULTS_MD.write_text("\n".join(lines))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("jobs", nargs="*")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    available = {p.stem: p for p in sorted(JOBS.glob("*.py")) if not p.stem.startswith("_")}
    if args.list:
        print("\n".join(available))
        return 0
    unknown = [j for j in args.jobs if j not in available]
    if unknown:
        print(f"unknown jobs: {', '.join(unknown)}; known: {', '.join(available)}")
        return 2
    selected = [available[j] for j in (args.jobs or available)]

    CACHE.mkdir(parents=True, exist_ok=True)
    server = PgServer(port=55433, directory=CACHE / "pg", durable=True).start()
    try:
        dsn, uri, gpkg = ensure_town(server)
        info = machine()
        info["postgresql"] = getattr(server, "version", "?")
        results = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
        env = dict(os.environ, IMIS_BENCH_DSN=dsn, IMIS_BENCH_PG_URI=uri, IMIS_BENCH_GPKG=str(gpkg),
                   IMIS_BENCH_REPEAT=str(args.repeat), QT_QPA_PLATFORM="offscreen",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "bench"), os.environ.get("PYTHONPATH")])))
        failed = []
        for path in selected:
            result = run_job(path, env)
            result["machine"] = info
            result["date"] = datetime.date.today().isoformat()
            results[path.stem] = result
            if not result["ok"]:
                failed.append(path.stem)
            RESULTS_JSON.write_text(json.dumps(results, indent=1, sort_keys=True))
            write_markdown(results, info)
        print(f"results: {RESULTS_MD}")
        return 1 if failed else 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
