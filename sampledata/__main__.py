"""python3 -m sampledata [--buildings N | --khulna] [--seed S] [--gpkg PATH] [--pg DSN] [--manifest PATH]

Generates the seeded sample town and writes it to a GeoPackage and/or an empty PostGIS
database; prints row counts and timings. Run from the repository root.
"""
import argparse
import json
import sys
import time

from .layout import KHULNA_BUILDINGS


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m sampledata", description=__doc__.splitlines()[2])
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--buildings", type=int, default=3000, metavar="N", help="number of buildings (default 3000)")
    size.add_argument("--khulna", action="store_true", help=f"Khulna size: {KHULNA_BUILDINGS} buildings on ~46 km2")
    ap.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    ap.add_argument("--gpkg", metavar="PATH", help="write a GeoPackage")
    ap.add_argument("--pg", metavar="DSN", help="load into this empty PostGIS database (libpq DSN)")
    ap.add_argument("--manifest", metavar="PATH", help="write the manifest of planted cases (JSON)")
    args = ap.parse_args(argv)
    n = KHULNA_BUILDINGS if args.khulna else args.buildings

    from .town import generate

    t0 = time.time()
    town = generate(n, seed=args.seed)
    t_gen = time.time() - t0
    print(f"generated {n} buildings (seed {args.seed}) in {t_gen:.1f} s {town.timings}")
    print(f"{'table':36s} {'rows':>9s} {'live':>9s}")
    for name, c in town.manifest["counts"].items():
        print(f"{name:36s} {c['rows']:9d} {c['live']:9d}")
    if args.manifest:
        with open(args.manifest, "w", encoding="utf-8") as fh:
            json.dump(town.manifest, fh, indent=1, sort_keys=False)
        print(f"manifest: {args.manifest}")
    if args.pg:
        from .write_postgis import write_postgis

        t = time.time()
        write_postgis(town, args.pg)
        print(f"PostGIS: loaded in {time.time() - t:.1f} s")
    if args.gpkg:
        from .write_gpkg import write_gpkg

        t = time.time()
        write_gpkg(town, args.gpkg)
        print(f"GeoPackage: {args.gpkg} written in {time.time() - t:.1f} s")
    print(f"total {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
