"""Sanitation: systems, containments, building-containment links, toilets.

Rules followed (EDITING.md 4.4, 6, 7): systems 3 and 4 have their own containment(s),
of a type of the same system; a shared-septic building (11) is linked to its
neighbour's containment; Community Toilet buildings (9) have one live link to an
operational community toilet; codes are derived from the live links at the end
(``derive``), after the planted defects have changed links.
"""
from types import SimpleNamespace

import numpy as np

from .attributes import NEAR_NETWORK, _choice

SEPTIC = {3: .40, 6: .18, 7: .14, 5: .06, 4: .04}
PIT = {9: .32, 8: .18, 10: .14, 15: .12, 16: .10, 12: .06, 11: .04}
_CUM = {3: (list(SEPTIC), np.cumsum(list(SEPTIC.values()))), 4: (list(PIT), np.cumsum(list(PIT.values())))}


def strip_neighbours(b):
    """For each building, the previous and next building along the same street front."""
    N = len(b.c)
    prev = np.full(N, -1, dtype=np.int64)
    nxt = np.full(N, -1, dtype=np.int64)
    ok = np.nonzero(b.strip >= 0)[0]
    ok = ok[~np.isin(b.role[ok], ["DUPLICATE_FOOTPRINT", "OVERLAP", "SLIVER", "OUTSIDE_CITY", "DELETED_DUPLICATE"])]
    o = ok[np.lexsort((b.along[ok], b.strip[ok]))]
    same = b.strip[o[1:]] == b.strip[o[:-1]]
    nxt[o[:-1][same]] = o[1:][same]
    prev[o[1:][same]] = o[:-1][same]
    return prev, nxt


def toilets(ctx):
    """Community toilets (in LICs) and public toilets (on main roads), housed in buildings."""
    rng, b, lay = ctx.rng, ctx.b, ctx.lay
    out = []
    for lic_id, grp in enumerate(lay.lic_groups, start=1):
        members = [int(i) for i in rng.permutation(np.nonzero((b.lic == lic_id) & (b.role == ""))[0])
                   if int(i) not in b.used]
        for k in range(min(len(members), 1 if len(grp) == 1 else 2)):
            b.used.add(members[k])
            out.append(SimpleNamespace(building=members[k], type="Community Toilet", lic=lic_id, status=True,
                                       deleted=False))
    road_rank = np.array([ctx.net.roads.rank[r] for r in b.road])
    for _ in range(max(2, lay.n // 6000)):
        i = b.take(lambda i: road_rank[i] <= 1 and b.lic[i] == 0)
        out.append(SimpleNamespace(building=i, type="Public Toilet", lic=0, status=True, deleted=False))
    # one community toilet out of service; one old public toilet soft-deleted (no building)
    multi = [t for t in out if t.type == "Community Toilet"]
    seen = {}
    for t in multi:
        seen.setdefault(t.lic, []).append(t)
    two = [v for v in seen.values() if len(v) == 2]
    (two[0][1] if two else multi[-1]).status = False
    i = b.take(lambda i: road_rank[i] <= 1)
    out.append(SimpleNamespace(building=None, type="Public Toilet", lic=0, status=True, deleted=True, near=i))
    for t in out:
        if t.building is not None:
            i = t.building
            b.role[i] = "TOILET"
            b.fu[i], b.uc[i] = 8, (34 if t.type == "Community Toilet" else 35)
            b.hh[i] = b.pop[i] = b.male[i] = b.female[i] = b.other[i] = 0
            b.dam[i] = b.daf[i] = b.dao[i] = 0
            b.business[i] = None
            b.floors[i] = 1
    ctx.toilets = out


def annexes(ctx):
    """Some outbuildings belong to the main building next to them (building_associated_to)."""
    rng, b = ctx.rng, ctx.b
    N = len(b.c)
    b.main_of = np.full(N, -1, dtype=np.int64)
    prev, nxt = ctx.prev, ctx.nxt
    cand = rng.permutation(np.nonzero((b.role == "") & (b.lic == 0) & (b.row > 0))[0])
    target = int(0.04 * N)
    is_main = np.zeros(N, dtype=bool)
    done = 0
    for i in cand:
        if done >= target:
            break
        j = prev[i] if prev[i] >= 0 else nxt[i]
        if j < 0 or b.role[j] != "" or b.main_of[j] >= 0 or b.main_of[i] >= 0 or is_main[i] or b.fu[j] != 1:
            continue
        b.main_of[i] = j
        is_main[j] = True
        b.fu[i], b.uc[i] = b.fu[j], b.uc[j]
        b.hh[i] = b.pop[i] = b.male[i] = b.female[i] = b.other[i] = 0
        b.dam[i] = b.daf[i] = b.dao[i] = 0
        b.floors[i] = 1
        b.structure[i] = 4 if rng.random() < 0.6 else 2
        b.business[i] = None
        b.used.update((int(i), int(j)))
        done += 1
    b.is_main = is_main


def systems(ctx):
    rng, b = ctx.rng, ctx.b
    N = len(b.c)
    lic = b.lic > 0
    normal = {3: .255, 4: .068, 11: .225, 12: .15, 2: .075, 7: .035, 8: .03, 10: .02, 5: .01, 6: .008, 9: .01, 0: .005}
    licp = {3: .10, 4: .30, 11: .06, 12: .20, 9: .16, 10: .07, 7: .05, 8: .04, 2: .01, 0: .01}
    s = np.zeros(N, dtype=np.int64)
    s[~lic] = _choice(rng, normal, (~lic).sum()).astype(np.int64)
    s[lic] = _choice(rng, licp, lic.sum()).astype(np.int64)
    sewered = b.sewer_d <= NEAR_NETWORK
    s[sewered & (rng.random(N) < 0.45)] = 1
    s[(s == 2) & (b.drain_d > NEAR_NETWORK)] = 3
    s[(s == 7) & (b.water_d > 100)] = 8
    ops = [t for t in ctx.toilets if t.type == "Community Toilet" and t.status and not t.deleted]
    ct_xy = np.array([b.c[t.building] for t in ops])
    d = np.linalg.norm(b.c[:, None, :] - ct_xy[None, :, :], axis=2)
    b.ct_near = np.argmin(d, axis=1)
    b.ct_d = d[np.arange(N), b.ct_near]
    s[(s == 9) & (b.ct_d > 450)] = 12
    s[(b.ct_d <= 300) & ~lic & (rng.random(N) < 0.03)] = 9
    s[(b.fu == 14) & (rng.random(N) < 0.5)] = 0
    s[b.role == "TOILET"] = 3
    # annexes share their main building's containment when it has one
    annex = b.main_of >= 0
    s[annex] = np.where(rng.random(annex.sum()) < 0.65, 11, s[annex])
    s[annex & (s == 11)] = np.where(np.isin(s[b.main_of[annex & (s == 11)]], [3, 4]), 11, 12)
    b.ss = s
    ctx.ct_ops = ops


def containments(ctx):
    """Own containments of system 3/4 buildings, then shared-septic links."""
    rng, b = ctx.rng, ctx.b
    N = len(b.c)
    conts, links = [], []
    ctx.conts, ctx.links = conts, links
    b.own = [[] for _ in range(N)]
    b.host = np.full(N, -1, dtype=np.int64)

    def add(i, system, offset=0.0, created=None):
        near_sewer = b.sewer_d[i] <= NEAR_NETWORK
        near_drain = b.drain_d[i] <= NEAR_NETWORK
        r = rng.random()
        if near_sewer and r < 0.5:
            t = 1 if system == 3 else 13
        elif near_drain and r < 0.32:
            t = 2 if system == 3 else 14
        elif b.water_d[i] <= 60 and r < 0.42:
            t = 4 if system == 3 else 11
        else:
            keys, cum = _CUM[system]
            t = keys[min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), len(keys) - 1)]
        c = SimpleNamespace(owner=i, type=t, offset=offset, deleted=False, orphan=False, far=None)
        conts.append(c)
        b.own[i].append(len(conts) - 1)
        links.append(SimpleNamespace(b=i, c=len(conts) - 1, deleted=False, dup=False))
        return len(conts) - 1

    for i in np.nonzero(np.isin(b.ss, [3, 4]))[0]:
        add(i, int(b.ss[i]))
        if rng.random() < (0.12 if b.floors[i] >= 3 else 0.045) and b.hd[i] > 4.5:
            add(i, int(b.ss[i]), offset=0.45)
    # shared septic tanks: annexes use their main building's, others a neighbour's
    prev, nxt = ctx.prev, ctx.nxt
    for i in np.nonzero(b.ss == 11)[0]:
        if b.main_of[i] >= 0:
            hosts = [b.main_of[i]]
        else:
            p2 = prev[prev[i]] if prev[i] >= 0 else -1
            n2 = nxt[nxt[i]] if nxt[i] >= 0 else -1
            hosts = [j for j in (prev[i], nxt[i], p2, n2) if j >= 0]
        hosts = [j for j in hosts if b.own[j] and b.role[j] in ("", "TOILET") and b.ss[j] in (3, 4)
                 and np.linalg.norm(b.c[j] - b.c[i]) < 30.0]
        if hosts:
            j = hosts[0] if len(hosts) == 1 or rng.random() < 0.5 else hosts[1]
            b.host[i] = j
            b.used.add(int(j))
            links.append(SimpleNamespace(b=i, c=b.own[j][0], deleted=False, dup=False))
        else:
            b.ss[i] = 3 if b.lic[i] == 0 else 4
            add(i, int(b.ss[i]))
    ctx.add_containment = add


def containment_rows(ctx):
    """Dimensions, dates and emptying state of every containment (after defects)."""
    rng, b = ctx.rng, ctx.b
    M = len(ctx.conts)
    R = rng.random((M, 12))
    for k, c in enumerate(ctx.conts):
        r = R[k]
        i = c.owner
        septic = c.type <= 7
        if septic or r[0] < 0.3:
            L = round(1.5 + 2.1 * float(r[1]), 1)
            W = round(0.9 + 1.1 * float(r[2]), 1)
            D = round(1.2 + 1.2 * float(r[3]), 1)
            c.tank_length, c.tank_width, c.depth, c.pit_diameter = L, W, D, None
            c.size = round(L * W * D, 2)
        else:
            dia = 1 if r[1] < 0.75 else 2
            D = round(1.5 + 1.5 * float(r[3]), 1)
            c.tank_length = c.tank_width = None
            c.pit_diameter, c.depth = dia, D
            c.size = round(float(np.pi * (dia / 2) ** 2 * D), 2)
        c.location = "Outside the house" if r[4] < 0.75 else "Inside the house"
        c.septic_criteria = bool(r[5] < 0.35) if septic else None
        lo = int(b.construction[i])
        hi = int(b.surveyed[i])
        c.construction = lo + int(r[6] * max(1, hi - lo))
        if r[7] < 0.3 and hi - c.construction > 200:
            c.times = 1 + int(r[8] * 4)
            c.last = hi - int(30 + r[9] * (min(1800, hi - c.construction) - 30))
            c.next = c.last + 3 * 365 + 1
            c.emptied = True
        else:
            c.times, c.last, c.next, c.emptied = 0, None, None, False
        c.surveyed = hi


def community_links(ctx):
    """build_toilets: each Community Toilet building to the nearest operational toilet."""
    b = ctx.b
    ctx.toilet_links = []
    for i in np.nonzero(b.ss == 9)[0]:
        ctx.toilet_links.append(SimpleNamespace(b=int(i), t=ctx.ct_ops[int(b.ct_near[i])], deleted=False))
