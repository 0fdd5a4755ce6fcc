"""Planted survey defects and soft-deleted rows.

Each planted case takes buildings nobody else uses (``b.take``), so the cases do not mix
and every other building stays clean. Geometry cases (duplicate, overlap, sliver, outside
the city, bow-tie) were placed by ``footprints``; this module plants the attribute and
link cases, and the soft deletes of every kind.
"""
from types import SimpleNamespace

import numpy as np

from . import footprints, layout
from . import planar as pl
from .attributes import MUNICIPAL, NEAR_NETWORK


def plant(ctx):
    rng, b, lay, net = ctx.rng, ctx.b, ctx.lay, ctx.net
    k = footprints.n_planted(lay.n)
    hosts = set(int(h) for h in b.host[b.host >= 0])
    plain = lambda i: b.role[i] == "" and i not in hosts and b.main_of[i] < 0 and not b.is_main[i]  # noqa: E731
    single = lambda i: plain(i) and b.ss[i] in (3, 4) and len(b.own[i]) == 1   # noqa: E731
    b.area_factor = np.ones(len(b.c))
    b.far_pipe = {}
    ctx.notes = {}

    def mark(i, role):
        b.role[i] = role

    for _ in range(k):
        i = b.take(plain)
        mark(i, "NULL_FOOTPRINT")
        b.shape[i] = "null"
        _drop_containments(ctx, i)
    for _ in range(k):
        i = b.take(plain)
        mark(i, "WARD_MISMATCH")
        b.ward[i] = _other_ward(lay, b, i)
    for f in (1.55, 0.6, 1.8)[:k]:
        i = b.take(plain)
        mark(i, "AREA_MISMATCH")
        b.area_factor[i] = f
    # the planted footprint cases carry no containment of their own
    for i in np.nonzero(np.isin(b.role, ["DUPLICATE_FOOTPRINT", "OVERLAP", "SLIVER", "OUTSIDE_CITY",
                                         "INVALID_FOOTPRINT", "DELETED_DUPLICATE"]))[0]:
        _drop_containments(ctx, i)
    for _ in range(k):
        i = b.take(single)
        mark(i, "CONTAINMENT_FAR")
        c = ctx.conts[b.own[i][0]]
        c.far = _far_point(lay, rng, b.c[i])
    # a live containment without live link: unlinked second containments, and an orphan
    for _ in range(k - 1):
        i = b.take(single)
        mark(i, "CONTAINMENT_UNLINKED")
        ci = ctx.add_containment(i, int(b.ss[i]), offset=0.45)   # a second containment ...
        ctx.links[-1].deleted = True                              # ... unlinked later
        ctx.conts[ci].unlinked = True
    i = b.take(lambda i: plain(i) and b.ss[i] in (3, 4))
    ci = ctx.add_containment(i, int(b.ss[i]), offset=0.0)
    ctx.links.pop()                          # never linked
    b.own[i].remove(ci)
    c = ctx.conts[ci]
    c.orphan = True
    c.far = b.c[i] + pl.perp(b.u[i:i + 1])[0] * (b.hd[i] + 0.6)
    c.near_building = i
    # system 3/4 buildings without a live containment
    for n_case in range(k):
        i = b.take(single)
        mark(i, "MISSING_CONTAINMENT")
        if n_case == k - 1:
            ci = b.own[i][0]
            ctx.conts[ci].deleted = True
            for ln in ctx.links:
                if ln.c == ci:
                    ln.deleted = True
        else:
            _drop_containments(ctx, i, keep_system=True)
    _code_deleted(ctx, plain)
    for _ in range(k):
        i = b.take(lambda i: plain(i) and b.ss[i] not in (3, 4, 11))
        mark(i, "CODE_FAR")
        b.ws[i] = MUNICIPAL
        b.pipe_code[i] = net.pipes.code[_far_pipe(ctx, i)]
    _soft_deletes(ctx, plain, single)


def _drop_containments(ctx, i, keep_system=False):
    b = ctx.b
    for ci in b.own[i]:
        ctx.conts[ci].dropped = True
    ctx.links[:] = [ln for ln in ctx.links if ln.b != i]
    b.own[i] = []
    if b.ss[i] == 11:
        b.host[i] = -1
    if not keep_system and b.ss[i] in (3, 4, 11):
        b.ss[i] = 12


def _other_ward(lay, b, i):
    blk = b.block[i]
    todo = [int(blk)]
    seen = {int(blk)}
    while todo:
        x = todo.pop(0)
        if lay.in_city[x] and lay.block_ward[x] != b.ward[i]:
            return int(lay.block_ward[x])
        for y in layout._block_neighbours(lay, x):
            if y not in seen:
                seen.add(y)
                todo.append(y)
    return int(b.ward[i]) % lay.n_wards + 1


def _far_point(lay, rng, c):
    """A point on land in the city, 160-260 m from c."""
    for _ in range(200):
        ang = rng.uniform(0, 2 * np.pi)
        p = c + rng.uniform(160, 260) * np.array([np.cos(ang), np.sin(ang)])
        blk = footprints.locate_block(lay, p)[0]
        if blk >= 0 and lay.in_city[blk] and lay.block_kind[blk] in ("normal", "lic") \
                and layout.water_clearance(lay, p)[0] > 10:
            return p
    raise RuntimeError("no far point")


def _far_pipe(ctx, i):
    net, b = ctx.net, ctx.b
    live = np.nonzero(net.pipes.live)[0]
    cor = b.corners[i:i + 1].repeat(len(live), 0)
    d = pl.polygon_segment_distance(cor, net.pipes.a[live], net.pipes.b[live])
    ok = live[(d > 400) & (d < 1500)]
    if len(ok) == 0:
        ok = live[d > 300]
    j = int(ok[ctx.rng.integers(len(ok))])
    b.far_pipe[i] = float(pl.polygon_segment_distance(b.corners[i:i + 1], net.pipes.a[j:j + 1], net.pipes.b[j:j + 1])[0])
    return j


def _code_deleted(ctx, plain):
    """Buildings whose drain/sewer/pipe code is a soft-deleted line next to its live twin."""
    b, net = ctx.b, ctx.net
    ctx.code_deleted = []
    for field, lines, near in (("drain_code", net.drains, b.drain), ("sewer_code", net.sewers, b.sewer),
                               ("watersupply_pipe_code", net.pipes, b.pipe)):
        done = False
        for t in np.nonzero(~lines.live)[0]:
            live = lines.twin_of[t]
            if live < 0:
                continue
            dist = {"drain_code": b.drain_d, "sewer_code": b.sewer_d, "watersupply_pipe_code": b.pipe_d}[field]
            cands = [int(i) for i in np.nonzero((near == live) & (dist <= NEAR_NETWORK))[0]
                     if int(i) not in b.used and plain(int(i)) and b.ss[int(i)] not in (3, 4, 11)]
            if not cands:
                continue
            i = cands[0]
            b.used.add(i)
            b.role[i] = "CODE_DELETED"
            if field == "drain_code":
                b.ss[i] = 2
            elif field == "sewer_code":
                b.ss[i] = 1
            else:
                b.ws[i] = MUNICIPAL
            ctx.code_deleted.append((i, field, lines.code[t]))
            done = True
            break
        if not done:
            raise RuntimeError(f"could not plant CODE_DELETED for {field}")


def _soft_deletes(ctx, plain, single):
    rng, b, lay = ctx.rng, ctx.b, ctx.lay
    N = len(b.c)
    b.deleted = np.zeros(N, dtype=bool)
    b.deleted[b.role == "DELETED_DUPLICATE"] = True
    n_del = max(4, int(round(0.001 * lay.n))) - 1
    by_b = {}
    for ln in ctx.links:
        by_b.setdefault(ln.b, []).append(ln)
    tl_by_b = {}
    for tl in ctx.toilet_links:
        tl_by_b.setdefault(tl.b, []).append(tl)
    for n_case in range(n_del):
        pred = single if n_case % 2 == 0 else plain
        i = b.take(pred)
        b.role[i] = "DELETED"
        b.deleted[i] = True
        for ci in b.own[i]:
            ctx.conts[ci].deleted = True
        for ln in by_b.get(i, []):
            ln.deleted = True
        for tl in tl_by_b.get(i, []):
            tl.deleted = True
    # replaced containments: the old one and its link soft-deleted, the building keeps a live one
    ctx.replaced = []
    for _ in range(3):
        i = b.take(single)
        b.role[i] = "REPLACED_CONTAINMENT"
        ci = ctx.add_containment(i, int(b.ss[i]), offset=0.25)
        ctx.conts[ci].deleted = True
        ctx.links[-1].deleted = True
        ctx.conts[ci].older = True
        b.own[i].remove(ci)
        ctx.replaced.append((i, ci))
    # the same link saved twice (EDITING.md 12): the duplicate soft-deleted
    sharers = [int(i) for i in rng.permutation(np.nonzero((b.ss == 11) & (b.host >= 0) & (b.role == ""))[0])
               if int(i) not in b.used][:3]
    ctx.dup_links = []
    for i in sharers:
        b.used.add(i)
        b.role[i] = "DUPLICATE_LINK"
        c = next(ln.c for ln in ctx.links if ln.b == i and not ln.deleted)
        ctx.links.append(SimpleNamespace(b=i, c=c, deleted=True, dup=True))
        ctx.dup_links.append(i)
    # community-toilet users who changed toilet: old link soft-deleted
    old_toilet = next(t for t in ctx.toilets if t.deleted)
    users = [tl for tl in ctx.toilet_links if not tl.deleted and tl.b not in b.used][:2]
    for tl in users:
        ctx.toilet_links.append(SimpleNamespace(b=tl.b, t=old_toilet, deleted=True))
