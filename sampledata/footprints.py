"""Building footprints: choose ``n`` of the layout's candidate plots, add awkward shapes.

Every footprint lives in the layout frame (metres) as an oriented "envelope" rectangle;
ordinary footprints are that rectangle. Special shapes (multi-part, bow-tie, sliver)
stay inside their envelope, so the no-overlap guarantee of the layout still holds.
Extra footprints for planted defects (duplicate, overlap, sliver, outside the city)
are added here and tagged in ``b.role``.
"""
from types import SimpleNamespace

import numpy as np

from . import layout
from . import planar as pl

def n_planted(n):
    """How many buildings of each planted defect kind."""
    return 3


def locate_block(lay, pts):
    """Index of the lattice block containing each frame point (-1 if none)."""
    pts = np.asarray(pts, dtype=float).reshape(-1, 2)
    if not hasattr(lay, "_block_index"):
        cen = lay.block_centre
        lay._block_index = pl.SegmentIndex(cen, cen, radius=130.0, cell=60.0)
    pidx, bidx = lay._block_index.candidates(pts)
    out = np.full(len(pts), -1, dtype=np.int64)
    if len(pidx):
        q = lay.block_corners[bidx]
        e = np.roll(q, -1, axis=1) - q
        w = pts[pidx][:, None, :] - q
        cr = e[..., 0] * w[..., 1] - e[..., 1] * w[..., 0]
        inside = np.all(cr >= 0, axis=1)
        out[pidx[inside]] = bidx[inside]
    return out


def in_city(lay, pts):
    b = locate_block(lay, pts)
    ok = b >= 0
    res = np.zeros(len(b), dtype=bool)
    res[ok] = lay.in_city[b[ok]]
    return res


class Occupancy:
    """Envelopes already placed, for 'is this spot free?' queries."""

    def __init__(self, c, u, hw, hd):
        self.c, self.u, self.hw, self.hd = [np.array(x, dtype=float) for x in (c, u, hw, hd)]
        self.n0 = len(self.c)
        self.index = pl.SegmentIndex(self.c, self.c, radius=40.0, cell=40.0)

    def add(self, c, u, hw, hd):
        self.c = np.vstack([self.c, c])
        self.u = np.vstack([self.u, u])
        self.hw = np.append(self.hw, hw)
        self.hd = np.append(self.hd, hd)

    def free(self, c, u, hw, hd, gap=layout.BUILDING_GAP, ignore=()):
        _, idx = self.index.candidates(np.asarray(c, dtype=float).reshape(1, 2))
        idx = np.concatenate([idx, np.arange(self.n0, len(self.c))])   # added ones: brute force
        idx = np.array([i for i in idx if i not in ignore], dtype=np.int64)
        if len(idx) == 0:
            return True
        k = len(idx)
        hit = pl.rects_overlap(np.repeat(np.reshape(c, (1, 2)), k, 0), np.repeat(np.reshape(u, (1, 2)), k, 0),
                               np.full(k, hw), np.full(k, hd), self.c[idx], self.u[idx], self.hw[idx],
                               self.hd[idx], gap)
        return not hit.any()


def _clear_of_water(lay, c, u, hw, hd, margin=layout.BANK_MARGIN):
    corners = pl.rect_corners(np.reshape(c, (1, 2)), np.reshape(u, (1, 2)), hw, hd)[0]
    if layout.water_clearance(lay, np.vstack([corners, c])).min() < margin:
        return False
    for p in lay.ponds:
        if np.linalg.norm(p.ring.mean(0) - c) < 80 and pl.convex_overlap(corners, p.ring, layout.POND_GAP):
            return False
    return True


def select(lay, rng, n):
    """Choose the footprints. Returns namespace ``b`` of per-building arrays (frame)."""
    k = n_planted(n)
    n_extra = 4 * k + 1
    n_base = n - n_extra
    cand = lay.cand
    rad = layout._norm_radius(lay, cand["c"])
    w = np.where(rad < 0.6, 1.0, np.clip(1.0 - 0.9 * (rad - 0.6), 0.55, 1.0))
    pick = np.sort(rng.choice(len(w), size=n_base, replace=False, p=w / w.sum()))
    b = SimpleNamespace()
    b.c = cand["c"][pick].copy()
    b.u = cand["u"][pick].copy()
    b.hw = cand["hw"][pick].copy()
    b.hd = cand["hd"][pick].copy()
    b.block = cand["block"][pick].copy()
    b.k = cand["k"][pick].copy()
    b.row = cand["row"][pick].copy()
    b.strip = cand["strip"][pick].copy()
    b.along = cand["along"][pick].copy()
    b.shape = np.array(["rect"] * n_base, dtype=object)
    b.role = np.array([""] * n_base, dtype=object)
    b.partner = np.full(n_base, -1, dtype=np.int64)
    b.polys = [None] * n_base           # frame polygons for non-rect shapes
    occ = Occupancy(b.c, b.u, b.hw, b.hd)
    lay.occupancy = occ

    def append(c, u, hw, hd, block, kk, role, partner, shape="rect", polys=None, strip=-1, along=0.0, row=0):
        b.c = np.vstack([b.c, c])
        b.u = np.vstack([b.u, u])
        b.hw = np.append(b.hw, hw)
        b.hd = np.append(b.hd, hd)
        b.block = np.append(b.block, block)
        b.k = np.append(b.k, kk)
        b.row = np.append(b.row, row)
        b.strip = np.append(b.strip, strip)
        b.along = np.append(b.along, along)
        b.shape = np.append(b.shape, shape)
        b.role = np.append(b.role, role)
        b.partner = np.append(b.partner, partner)
        b.polys.append(polys)
        occ.add(c, u, hw, hd)

    # plain row-0 footprints of ordinary blocks, in random order, as partners for extras
    ordinary = np.nonzero(lay.block_kind[b.block] == "normal")[0]
    pool = list(rng.permutation(ordinary))
    used = set()

    def take(pred=lambda i: True):
        while pool:
            i = int(pool.pop())
            if i not in used and pred(i):
                used.add(i)
                return i
        raise RuntimeError("no footprint left for a planted case")

    for _ in range(k):                               # identical geometry
        p = take()
        append(b.c[p], b.u[p], b.hw[p], b.hd[p], b.block[p], b.k[p], "DUPLICATE_FOOTPRINT", p,
               strip=b.strip[p], along=b.along[p], row=b.row[p])
    placed = 0
    while placed < k:                                # shifted copy, ~70 % overlap
        p = take()
        v = pl.perp(b.u[p:p + 1])[0]
        for sign in (1.0, -1.0):
            c = b.c[p] + sign * v * 0.6 * b.hd[p]
            if occ.free(c, b.u[p], b.hw[p], b.hd[p], ignore={p}) and _clear_of_water(lay, c, b.u[p], b.hw[p], b.hd[p]):
                append(c, b.u[p], b.hw[p], b.hd[p], b.block[p], b.k[p], "OVERLAP", p,
                       strip=b.strip[p], along=b.along[p], row=b.row[p])
                placed += 1
                break
    placed = 0
    while placed < k:                                # sliver behind a footprint
        p = take()
        v = pl.perp(b.u[p:p + 1])[0]
        hw, hd = 0.9, 0.2
        c = b.c[p] + v * (b.hd[p] + 0.5 + hd)
        corners = pl.rect_corners(c[None], b.u[p:p + 1], hw, hd)
        if occ.free(c, b.u[p], hw, hd, gap=0.3) and _clear_of_water(lay, c, b.u[p], hw, hd) \
                and layout._inside_inset(lay, np.array([b.block[p]]), corners)[0]:
            append(c, b.u[p], hw, hd, b.block[p], b.k[p], "SLIVER", p, strip=b.strip[p], along=b.along[p],
                   row=b.row[p])
            placed += 1
    # outside the city: beyond an outer road, on the side away from the city
    P, U, _, S = lay.block_geom
    adj = lay.edge_adj
    outer = []
    for e in np.nonzero(lay.edge_road)[0]:
        a0, a1 = adj[e]
        ins = [x for x in (a0, a1) if x >= 0 and lay.in_city[x]]
        if len(ins) == 1 and lay.edge_rank[e] >= 1 and not lay.block_water[ins[0]]:
            outer.append((int(e), int(ins[0])))
    outer = [outer[i] for i in rng.permutation(len(outer))]
    placed = 0
    for e, bi in outer:
        if placed == k:
            break
        kk = int(np.nonzero(lay.block_edges[bi] == e)[0][0])
        u = U[bi, kk]
        v = pl.perp(u[None])[0]
        hw, hd = rng.uniform(4.0, 6.5), rng.uniform(4.5, 7.5)
        c = P[bi, kk] + u * lay.edge_len[e] * rng.uniform(0.3, 0.7) - v * (S[bi, kk] + 1.0 + hd)
        corners = pl.rect_corners(c[None], u[None], hw, hd)[0]
        if in_city(lay, np.vstack([corners, c])).any():
            continue
        if not (occ.free(c, u, hw, hd, gap=3.0) and _clear_of_water(lay, c, u, hw, hd)):
            continue
        append(c, u, hw, hd, -1, -1, "OUTSIDE_CITY", -1)
        placed += 1
    if placed < k:
        raise RuntimeError("could not place the OUTSIDE_CITY footprints")
    # soft-deleted building with the same footprint as a live one (demolished and re-surveyed)
    p = take()
    append(b.c[p], b.u[p], b.hw[p], b.hd[p], b.block[p], b.k[p], "DELETED_DUPLICATE", p,
           strip=b.strip[p], along=b.along[p], row=b.row[p])
    b.used = used
    b.take = take
    assert len(b.c) == n, (len(b.c), n)
    return b


def reshape_specials(lay, rng, b):
    """Turn some ordinary footprints into multi-part and bow-tie footprints."""
    k = n_planted(lay.n)
    n_multi = max(3, lay.n // 700)
    for _ in range(n_multi):
        i = b.take(lambda i: b.hw[i] > 3.5 and b.hd[i] > 5.0)
        b.shape[i] = "multi"
        b.role[i] = "MULTIPART"
        b.polys[i] = multipart_rings(b.c[i], b.u[i], b.hw[i], b.hd[i], rng.uniform(-0.25, 0.25))
    for _ in range(k):
        i = b.take()
        b.shape[i] = "bowtie"
        b.role[i] = "INVALID_FOOTPRINT"
        b.polys[i] = bowtie_ring(b.c[i], b.u[i], b.hw[i], b.hd[i])


def _local(c, u, hw, hd, pts):
    v = np.array([-u[1], u[0]])
    pts = np.asarray(pts, dtype=float)
    return c + pts[:, 0:1] * hw * u + pts[:, 1:2] * hd * v


def multipart_rings(c, u, hw, hd, shift):
    """Main block at the street front, a small detached block at the back (same envelope)."""
    front = _local(c, u, hw, hd, [(-1, -1), (1, -1), (1, 0.24), (-1, 0.24)])
    x0, x1 = shift - 0.45, shift + 0.45
    back = _local(c, u, hw, hd, [(x0, 0.5), (x1, 0.5), (x1, 1), (x0, 1)])
    return [[front], [back]]


def bowtie_ring(c, u, hw, hd):
    """Self-intersecting ring: short front edge, long back edge, crossing diagonals.

    Its geodesic |signed area| is hw*hd (a quarter of the envelope), well above 1 m2.
    """
    return [[_local(c, u, hw, hd, [(-0.5, -1), (0.5, -1), (-1, 1), (1, 1)])]]
