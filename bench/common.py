"""Helpers for benchmark jobs: one running QGIS, medians of repeated runs, one result line.

A job is a script in bench/jobs/ run as a whole process by bench/run.py. It reads the cached
Khulna-size town from the environment (IMIS_BENCH_DSN, IMIS_BENCH_PG_URI, IMIS_BENCH_GPKG),
times the plugin's way and the stock-QGIS way of the same job inside this one process
(start-up excluded), prints its figures and ends with `emit(...)`.
"""
import json  # noqa: I001
import os
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for path in (str(REPO / "build"), str(REPO)):
    if path not in sys.path:
        sys.path.insert(0, path)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DSN = os.environ.get("IMIS_BENCH_DSN", "")
PG_URI = os.environ.get("IMIS_BENCH_PG_URI", "")
GPKG = os.environ.get("IMIS_BENCH_GPKG", "")
REPEAT = int(os.environ.get("IMIS_BENCH_REPEAT", "5"))

_APP = None


def start_qgis():
    """Start QGIS with Processing and the plugin's provider (once per job process)."""
    global _APP
    if _APP is not None:
        return _APP
    from qgis.core import QgsApplication

    QgsApplication.setPrefixPath("/usr", True)
    _APP = QgsApplication([], False)
    _APP.initQgis()
    sys.path.append("/usr/share/qgis/python/plugins")
    from processing.core.Processing import Processing

    Processing.initialize()
    import imis

    plugin = imis.classFactory(None)
    plugin.initProcessing()
    _APP._imis_plugin = plugin  # keep the plugin alive for the job's lifetime
    return _APP


def timed(fn, repeat=None, warmup=1):
    """Median wall time in seconds of `fn()` over `repeat` runs after `warmup` runs; and the last result."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeat or REPEAT):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times, result


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def ratio(stock_seconds, ours_seconds):
    return stock_seconds / ours_seconds if ours_seconds > 0 else float("inf")


def emit(job, rows, notes=""):
    """Print the job's figures and the machine-readable line bench/run.py collects.

    rows: list of dicts with at least `case`, `ours_s`; optionally `stock_s`, `target`, extra keys.
    """
    for row in rows:
        line = f"{job} | {row['case']}: ours {row['ours_s']:.3f} s"
        if row.get("stock_s") is not None:
            line += f", stock {row['stock_s']:.3f} s, ratio {ratio(row['stock_s'], row['ours_s']):.1f}x"
        if row.get("target"):
            line += f" (target {row['target']})"
        print(line, flush=True)
    payload = {"job": job, "rows": rows, "notes": notes, "peak_rss_mib": round(peak_rss_mib(), 1),
               "repeat": REPEAT}
    print("BENCH-RESULT " + json.dumps(payload), flush=True)
