"""Compiled shape kernels: every object's moments, bounding box, convex hull, perimeter and Euler number.

Objects are walked through `order_by_label` (one counting sort of the foreground pixels, raster order
kept within each object), so per-object sums add the same numbers in the same order as the NumPy
reference (`phenomics.shape`) and agree with it to the last bit or to float rounding (hull areas).
"""

from __future__ import annotations

import numpy as np

from labstream.phenomics._jit import njit

# shape table columns (per object)
AREA, CY, CX, MU20, MU11, MU02, MU30, MU21, MU12, MU03, BBOX, HULL = range(12)
SHAPE_COLUMNS = 12


def order_by_label(labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts (n+2), flat indices): object k's pixels are idx[starts[k]:starts[k+1]], raster order.

    Labels above n are ignored. (`nested_orders` with no nuclei.)"""
    return nested_orders(labels, np.zeros_like(labels), n)[1]


@njit
def nested_orders(
    cells: np.ndarray, nuclei: np.ndarray, n: int
) -> tuple[bool, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(ok, cells' order, nuclei's order) in two passes over the image: each order is (starts (n+2),
    flat indices), object k's pixels idx[starts[k]:starts[k+1]] in raster order, labels above n
    ignored (`order_by_label`). ok: every nucleus pixel lies in its own cell (cells == nuclei wherever
    nuclei > 0, the fused feature path's condition); when it does not the orders are left empty."""
    fc, fn = cells.ravel(), nuclei.ravel()
    sc = np.zeros(n + 2, np.int64)
    sn = np.zeros(n + 2, np.int64)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    for p in range(fc.size):
        lc, ln = fc[p], fn[p]
        if ln > 0:
            if lc != ln:
                return False, empty, empty
            if ln <= n:
                sn[ln + 1] += 1
        if lc > 0 and lc <= n:
            sc[lc + 1] += 1
    for k in range(1, n + 2):
        sc[k] += sc[k - 1]
        sn[k] += sn[k - 1]
    pc, pn = sc.copy(), sn.copy()
    ic = np.empty(sc[n + 1], np.int64)
    inu = np.empty(sn[n + 1], np.int64)
    for p in range(fc.size):
        lc = fc[p]
        if lc > 0 and lc <= n:
            ic[pc[lc]] = p
            pc[lc] += 1
            ln = fn[p]
            if ln > 0 and ln <= n:  # a nucleus pixel is a cell pixel (checked above)
                inu[pn[ln]] = p
                pn[ln] += 1
    return True, (sc, ic), (sn, inu)


@njit
def _lower_hull_integral(u: np.ndarray, v: np.ndarray, m: int, su: np.ndarray, sv: np.ndarray) -> float:
    """Integral of the lower convex hull of points (u[i], v[i]), i < m, u strictly increasing."""
    top = 0
    for i in range(m):
        while top >= 2:
            ou, ov, au, av = su[top - 2], sv[top - 2], su[top - 1], sv[top - 1]
            if (au - ou) * (v[i] - ov) - (av - ov) * (u[i] - ou) <= 0:
                top -= 1
            else:
                break
        su[top], sv[top] = u[i], v[i]
        top += 1
    s = 0.0
    for i in range(top - 1):
        s += (su[i + 1] - su[i]) * (sv[i] + sv[i + 1]) / 2
    return s


@njit
def shape_table(labels: np.ndarray, starts: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    """(n, SHAPE_COLUMNS): area, centroid, central moments mu_pq, bounding-box area, hull area.

    The hull of an object's pixel squares is spanned by the outer corners of each row's leftmost and
    rightmost pixels: the area between the upper hull of the right corners and the lower hull of the
    left corners, integrated over rows (the same construction as the NumPy reference)."""
    w = labels.shape[1]
    out = np.zeros((n, SHAPE_COLUMNS))
    h = labels.shape[0]
    u = np.empty(2 * h + 2)
    vmin = np.empty(2 * h + 2)
    vmax = np.empty(2 * h + 2)
    su = np.empty(2 * h + 2)
    sv = np.empty(2 * h + 2)
    for k in range(n):
        s, e = starts[k + 1], starts[k + 2]
        area = e - s
        if area == 0:
            continue
        sy = 0.0
        sx = 0.0
        for i in range(s, e):
            sy += idx[i] // w
            sx += idx[i] % w
        cy, cx = sy / area, sx / area
        m20 = m11 = m02 = m30 = m21 = m12 = m03 = 0.0
        xmin, xmax = w, -1
        m = 0  # distinct row edges u = y -/+ 0.5 with the extreme columns at each
        row, left, right = -1, 0, 0
        y = x = -1
        for i in range(s, e + 1):
            if i < e:
                y, x = idx[i] // w, idx[i] % w
                dy, dx = y - cy, x - cx
                dy2, dx2 = dy * dy, dx * dx
                m20 += dy2
                m11 += dy * dx
                m02 += dx2
                m30 += dy2 * dy
                m21 += dy2 * dx
                m12 += dx2 * dy
                m03 += dx2 * dx
                xmin = min(xmin, x)
                xmax = max(xmax, x)
            if i == e or y != row:  # close the previous row
                if row >= 0:
                    lo, hi = left - 0.5, right + 0.5
                    if m > 0 and u[m - 1] == row - 0.5:
                        vmin[m - 1] = min(vmin[m - 1], lo)
                        vmax[m - 1] = max(vmax[m - 1], hi)
                    else:
                        u[m], vmin[m], vmax[m] = row - 0.5, lo, hi
                        m += 1
                    u[m], vmin[m], vmax[m] = row + 0.5, lo, hi
                    m += 1
                if i < e:
                    row, left, right = y, x, x
            else:
                right = x
        lower = _lower_hull_integral(u, vmin, m, su, sv)
        for j in range(m):
            vmax[j] = -vmax[j]
        upper = -_lower_hull_integral(u, vmax, m, su, sv)
        ymin, ymax = idx[s] // w, idx[e - 1] // w
        r = out[k]
        r[AREA], r[CY], r[CX] = area, cy, cx
        r[MU20], r[MU11], r[MU02], r[MU30] = m20, m11, m02, m30
        r[MU21], r[MU12], r[MU03] = m21, m12, m03
        r[BBOX] = (ymax - ymin + 1) * (xmax - xmin + 1)
        r[HULL] = upper - lower
    return out


_PERIM_W = np.zeros(50)
_PERIM_W[[5, 7, 15, 17, 25, 27]] = 1
_PERIM_W[[21, 33]] = np.sqrt(2)
_PERIM_W[[13, 23]] = (1 + np.sqrt(2)) / 2
_EULER8 = np.array([0, 0, 0, 0, 0, 0, -1, 0, 1, 0, 0, 0, 0, 0, -1, 0], np.float64)


@njit
def _at(labels: np.ndarray, y: int, x: int) -> int:
    if y < 0 or x < 0 or y >= labels.shape[0] or x >= labels.shape[1]:
        return 0
    return labels[y, x]


@njit
def _is_border(labels: np.ndarray, y: int, x: int) -> bool:
    lab = _at(labels, y, x)
    if lab == 0:
        return False
    return (
        _at(labels, y - 1, x) != lab
        or _at(labels, y + 1, x) != lab
        or _at(labels, y, x - 1) != lab
        or _at(labels, y, x + 1) != lab
    )


@njit
def _euler_quad(a: int, b: int, c: int, d: int, n: int, ew: np.ndarray, eul: np.ndarray) -> None:
    """Add the bit-quad weights of a 2x2 window (a lower right, b upper right, c lower left, d upper
    left) to the objects in it."""
    if a == b and a == c and a == d:
        return
    for j in range(4):
        lab = a if j == 0 else (b if j == 1 else (c if j == 2 else d))
        if lab <= 0 or lab > n:
            continue
        if (j >= 1 and lab == a) or (j >= 2 and lab == b) or (j == 3 and lab == c):
            continue  # counted at its first occurrence in the window
        cfg = (a == lab) * 1 + (b == lab) * 2 + (c == lab) * 4 + (d == lab) * 8
        eul[lab] += ew[cfg]


@njit
def perimeter_euler(
    labels: np.ndarray, n: int, pw: np.ndarray, ew: np.ndarray, starts: np.ndarray, idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's regionprops perimeter (4-neighbourhood border pixels weighted by the layout of
    their same-object border neighbours) and Euler number (8-connectivity bit quads), walking only the
    objects' pixels (`order_by_label`'s starts, idx: raster order within each object, so each
    perimeter adds in the order of an image pass). Every 2x2 window holding an object pixel is
    weighed once, from the first such pixel in raster order (d, b, c, a of the window); windows
    without one weigh nothing. Euler weights are integers, so their order does not matter."""
    h, w = labels.shape
    per = np.zeros(n + 1)
    eul = np.zeros(n + 1)
    for lab in range(1, n + 1):
        for i in range(starts[lab], starts[lab + 1]):
            p = idx[i]
            y, x = p // w, p % w
            if 0 < y < h - 1 and 0 < x < w - 1:  # no bounds checks away from the frame
                ul, up, ur = labels[y - 1, x - 1], labels[y - 1, x], labels[y - 1, x + 1]
                le, ri = labels[y, x - 1], labels[y, x + 1]
                dl, dn, dr = labels[y + 1, x - 1], labels[y + 1, x], labels[y + 1, x + 1]
            else:
                ul, up, ur = _at(labels, y - 1, x - 1), _at(labels, y - 1, x), _at(labels, y - 1, x + 1)
                le, ri = _at(labels, y, x - 1), _at(labels, y, x + 1)
                dl, dn, dr = _at(labels, y + 1, x - 1), _at(labels, y + 1, x), _at(labels, y + 1, x + 1)
            if up != lab or dn != lab or le != lab or ri != lab:  # a border pixel
                code = 1
                for dy in range(-1, 2):
                    for dx in range(-1, 2):
                        if (dy != 0 or dx != 0) and _at(labels, y + dy, x + dx) == lab:
                            if _is_border(labels, y + dy, x + dx):
                                code += 10 if (dy != 0 and dx != 0) else 2
                per[lab] += pw[min(code, 49)]
            # the four windows holding (y, x), where it is their first object pixel
            c_up, c_le = 0 < up <= n, 0 < le <= n
            if not (c_up or c_le or 0 < ul <= n):
                _euler_quad(lab, up, le, ul, n, ew, eul)
            if not (c_up or 0 < ur <= n):
                _euler_quad(ri, ur, lab, up, n, ew, eul)
            if not c_le:
                _euler_quad(dn, lab, dl, le, n, ew, eul)
            _euler_quad(dr, ri, dn, lab, n, ew, eul)
    return per[1:], eul[1:]
