"""Vectorised planar geometry in metres (numpy only), for laying out the sample town.

Rectangles are oriented boxes: centre ``c`` (N,2), unit axis ``u`` (N,2) and half sizes
``hw`` (along ``u``) and ``hd`` (along ``v = perp(u)``).
"""
import numpy as np


def perp(u):
    """Left normal of unit vectors (N,2)."""
    return np.stack([-u[..., 1], u[..., 0]], axis=-1)


def rect_corners(c, u, hw, hd):
    """Corners (N,4,2) of oriented rectangles, counter-clockwise."""
    v = perp(u)
    hw = np.asarray(hw)[..., None]
    hd = np.asarray(hd)[..., None]
    return np.stack([c - u * hw - v * hd, c + u * hw - v * hd, c + u * hw + v * hd, c - u * hw + v * hd], axis=-2)


def rects_overlap(c1, u1, hw1, hd1, c2, u2, hw2, hd2, gap=0.0):
    """True where two oriented rectangles come closer than ``gap`` (separating axis test)."""
    v1, v2 = perp(u1), perp(u2)
    d = c2 - c1
    sep = np.zeros(len(d), dtype=bool)
    for a in (u1, v1, u2, v2):
        r1 = hw1 * np.abs(np.sum(u1 * a, -1)) + hd1 * np.abs(np.sum(v1 * a, -1))
        r2 = hw2 * np.abs(np.sum(u2 * a, -1)) + hd2 * np.abs(np.sum(v2 * a, -1))
        sep |= np.abs(np.sum(d * a, -1)) > r1 + r2 + gap
    return ~sep


def convex_overlap(p, q, gap=0.0):
    """True if convex polygons p (k,2) and q (m,2) (any orientation) are closer than ``gap``."""
    cp, cq = p.mean(axis=0), q.mean(axis=0)
    rp = np.sqrt(((p - cp) ** 2).sum(axis=1).max())
    rq = np.sqrt(((q - cq) ** 2).sum(axis=1).max())
    if np.sqrt(((cp - cq) ** 2).sum()) > rp + rq + gap:
        return False
    for poly in (p, q):
        e = np.roll(poly, -1, axis=0) - poly
        n = np.stack([-e[:, 1], e[:, 0]], axis=1)
        n /= np.linalg.norm(n, axis=1)[:, None]
        pp = p @ n.T
        qq = q @ n.T
        if np.any((pp.max(0) + gap < qq.min(0)) | (qq.max(0) + gap < pp.min(0))):
            return False
    return True


def rects_convex_overlap(corners, poly, gap=0.0):
    """True where rectangles (M,4,2) come closer than ``gap`` to one convex polygon (k,2)."""
    sep = np.zeros(len(corners), dtype=bool)
    e = np.roll(poly, -1, axis=0) - poly
    n = np.stack([-e[:, 1], e[:, 0]], axis=1)
    n /= np.linalg.norm(n, axis=1)[:, None]
    pp = poly @ n.T                                   # (k, k)
    rr = corners @ n.T                                # (M, 4, k)
    sep |= np.any((rr.max(1) + gap < pp.min(0)) | (pp.max(0) + gap < rr.min(1)), axis=1)
    for a, b in ((0, 1), (0, 3)):
        ax = corners[:, b] - corners[:, a]
        ax /= np.linalg.norm(ax, axis=1)[:, None]
        rp = np.einsum("mcd,md->mc", corners, ax)     # (M, 4)
        pq = ax @ poly.T                              # (M, k)
        sep |= (rp.max(1) + gap < pq.min(1)) | (pq.max(1) + gap < rp.min(1))
    return ~sep


def seg_dist(px, py, ax, ay, bx, by):
    """Distance from points to segments (broadcasting)."""
    dx, dy = bx - ax, by - ay
    ll = dx * dx + dy * dy
    t = np.where(ll > 0, ((px - ax) * dx + (py - ay) * dy) / np.where(ll > 0, ll, 1.0), 0.0)
    t = np.clip(t, 0.0, 1.0)
    qx, qy = ax + t * dx - px, ay + t * dy - py
    return np.sqrt(qx * qx + qy * qy)


def dist_to_polyline(pts, line, chunk=4000):
    """Distance (N,) from points (N,2) to a polyline (K,2), and the index of the nearest segment."""
    pts = np.asarray(pts, dtype=float).reshape(-1, 2)
    a, b = line[:-1], line[1:]
    out = np.empty(len(pts))
    idx = np.empty(len(pts), dtype=np.int64)
    for s in range(0, len(pts), chunk):
        p = pts[s:s + chunk]
        d = seg_dist(p[:, 0:1], p[:, 1:2], a[None, :, 0], a[None, :, 1], b[None, :, 0], b[None, :, 1])
        k = np.argmin(d, axis=1)
        idx[s:s + chunk] = k
        out[s:s + chunk] = d[np.arange(len(p)), k]
    return out, idx


def polygon_area(xy):
    """Signed shoelace area of rings (..., k, 2) (positive = counter-clockwise)."""
    x, y = xy[..., 0], xy[..., 1]
    return 0.5 * np.sum(x * np.roll(y, -1, axis=-1) - np.roll(x, -1, axis=-1) * y, axis=-1)


def polygon_centroid(xy):
    """Area centroid of one simple ring (k,2) (not closed)."""
    x, y = xy[:, 0], xy[:, 1]
    x1, y1 = np.roll(x, -1), np.roll(y, -1)
    cr = x * y1 - x1 * y
    a = cr.sum() / 2.0
    if abs(a) < 1e-18:
        return xy.mean(axis=0)
    return np.array([((x + x1) * cr).sum() / (6 * a), ((y + y1) * cr).sum() / (6 * a)])


def convex_hull(points):
    """Convex hull (counter-clockwise, not closed) of points (N,2): Andrew's monotone chain."""
    pts = sorted(map(tuple, np.asarray(points, dtype=float)))
    if len(pts) <= 2:
        return np.array(pts)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def points_in_polygon(px, py, ring):
    """Even-odd point-in-polygon for points (N,) against one ring (k,2)."""
    inside = np.zeros(len(px), dtype=bool)
    x0, y0 = ring[:, 0], ring[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    for ax, ay, bx, by in zip(x0, y0, x1, y1):
        cond = (ay > py) != (by > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            xi = ax + (py - ay) * (bx - ax) / (by - ay)
        inside ^= cond & (px < xi)
    return inside


def offset_polyline(line, offset):
    """Polyline (K,2) shifted sideways by ``offset`` (scalar or (K,)), positive to the left."""
    d = np.gradient(line, axis=0)
    d /= np.linalg.norm(d, axis=1)[:, None]
    n = perp(d)
    return line + n * np.asarray(offset, dtype=float).reshape(-1, 1)


class SegmentIndex:
    """Grid index of segments for 'nearest segment within ``radius``' queries.

    Every segment is registered in all cells its bounding box, grown by ``radius``,
    touches; a query point then only needs the segments of its own cell.
    """

    def __init__(self, a, b, radius, cell=50.0):
        self.a = np.asarray(a, dtype=float)
        self.b = np.asarray(b, dtype=float)
        self.radius = radius
        self.cell = cell
        lo = np.minimum(self.a, self.b) - radius
        hi = np.maximum(self.a, self.b) + radius
        self.origin = lo.min(axis=0) if len(lo) else np.zeros(2)
        i0 = np.floor((lo - self.origin) / cell).astype(np.int64)
        i1 = np.floor((hi - self.origin) / cell).astype(np.int64)
        self.ny = int(i1[:, 1].max() + 2) if len(lo) else 1
        nx = i1[:, 0] - i0[:, 0] + 1
        ny = i1[:, 1] - i0[:, 1] + 1
        cnt = nx * ny
        segs = np.repeat(np.arange(len(self.a)), cnt)
        local = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        gx = i0[segs, 0] + local // ny[segs]
        gy = i0[segs, 1] + local % ny[segs]
        keys = gx * self.ny + gy
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.segs = segs[order]

    def candidates(self, pts):
        """For points (N,2): (point index, segment index) pairs of the points' cells."""
        g = np.floor((pts - self.origin) / self.cell).astype(np.int64)
        k = g[:, 0] * self.ny + g[:, 1]
        lo = np.searchsorted(self.keys, k, side="left")
        hi = np.searchsorted(self.keys, k, side="right")
        cnt = hi - lo
        pidx = np.repeat(np.arange(len(pts)), cnt)
        start = np.repeat(lo - np.cumsum(cnt) + cnt, cnt)
        sidx = self.segs[start + np.arange(cnt.sum())] if cnt.sum() else np.zeros(0, np.int64)
        return pidx, sidx

    def nearest_to_points(self, pts):
        """Nearest segment to each point (N,2) within ``radius``: (segment index or -1, distance)."""
        n = len(pts)
        best = np.full(n, -1, dtype=np.int64)
        bestd = np.full(n, np.inf)
        pidx, sidx = self.candidates(pts)
        if len(pidx):
            d = seg_dist(pts[pidx, 0], pts[pidx, 1], self.a[sidx, 0], self.a[sidx, 1], self.b[sidx, 0], self.b[sidx, 1])
            order = np.lexsort((sidx, d, pidx))   # ties: lowest segment index
            p_sorted = pidx[order]
            first = np.ones(len(order), dtype=bool)
            first[1:] = p_sorted[1:] != p_sorted[:-1]
            sel = order[first]
            best[pidx[sel]] = sidx[sel]
            bestd[pidx[sel]] = d[sel]
        far = bestd > self.radius
        best[far] = -1
        return best, bestd

    def nearest_to_polygons(self, corners, anchor=None, chunk=20000):
        """Nearest segment to each convex polygon (N,k,2): (segment index or -1, distance).

        Distances are exact polygon-to-segment distances (0 when they cross). Only
        segments within ``radius`` of ``anchor`` (default: first corner) are found.
        """
        n = len(corners)
        best = np.full(n, -1, dtype=np.int64)
        bestd = np.full(n, np.inf)
        if anchor is None:
            anchor = corners[:, 0, :]
        for s in range(0, n, chunk):
            cs = corners[s:s + chunk]
            an = anchor[s:s + chunk]
            pidx, sidx = self.candidates(an)
            if len(pidx) == 0:
                continue
            # prune: a segment can only be nearest if its distance to the anchor is within
            # the best anchor distance plus twice the polygon's reach from the anchor
            da = seg_dist(an[pidx, 0], an[pidx, 1], self.a[sidx, 0], self.a[sidx, 1], self.b[sidx, 0], self.b[sidx, 1])
            reach = np.linalg.norm(cs - an[:, None, :], axis=2).max(axis=1)
            best_a = np.full(len(cs), np.inf)
            np.minimum.at(best_a, pidx, da)
            keep = da <= best_a[pidx] + 2 * reach[pidx] + 1e-6
            pidx, sidx = pidx[keep], sidx[keep]
            d = polygon_segment_distance(cs[pidx], self.a[sidx], self.b[sidx])
            # min per point
            order = np.lexsort((sidx, d, pidx))   # ties: lowest segment index
            p_sorted = pidx[order]
            first = np.ones(len(order), dtype=bool)
            first[1:] = p_sorted[1:] != p_sorted[:-1]
            sel = order[first]
            best[s + pidx[sel]] = sidx[sel]
            bestd[s + pidx[sel]] = d[sel]
        far = bestd > self.radius
        best[far] = -1
        return best, bestd


def polygon_segment_distance(corners, a, b):
    """Distance between convex polygons (N,k,2) and segments a,b (N,2); 0 if they meet."""
    px, py = corners[..., 0], corners[..., 1]
    d1 = seg_dist(px, py, a[:, None, 0], a[:, None, 1], b[:, None, 0], b[:, None, 1]).min(axis=1)
    e0 = corners
    e1 = np.roll(corners, -1, axis=1)
    da = seg_dist(a[:, None, 0], a[:, None, 1], e0[..., 0], e0[..., 1], e1[..., 0], e1[..., 1]).min(axis=1)
    db = seg_dist(b[:, None, 0], b[:, None, 1], e0[..., 0], e0[..., 1], e1[..., 0], e1[..., 1]).min(axis=1)
    d = np.minimum(d1, np.minimum(da, db))
    # segment endpoint inside polygon, or segment crossing an edge -> 0
    ins_a = _inside_convex(a, corners)
    ins_b = _inside_convex(b, corners)
    cross = _segments_cross(a[:, None, :], b[:, None, :], e0, e1).any(axis=1)
    d[ins_a | ins_b | cross] = 0.0
    return d


def _inside_convex(p, corners):
    e = np.roll(corners, -1, axis=1) - corners
    w = p[:, None, :] - corners
    cr = e[..., 0] * w[..., 1] - e[..., 1] * w[..., 0]
    return np.all(cr >= 0, axis=1) | np.all(cr <= 0, axis=1)


def _segments_cross(a, b, c, d):
    def orient(p, q, r):
        return (q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1]) - (q[..., 1] - p[..., 1]) * (r[..., 0] - p[..., 0])

    o1, o2 = orient(a, b, c), orient(a, b, d)
    o3, o4 = orient(c, d, a), orient(c, d, b)
    return (o1 * o2 < 0) & (o3 * o4 < 0)
