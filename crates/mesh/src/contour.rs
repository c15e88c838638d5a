//! Contours: a smoothed field from the mask (thin parts kept), marching squares at iso 0.5 into closed sub-pixel loops,
//! Douglas–Peucker simplification and resampling to the target edge length.

use crate::mask::{self, Mask};

/// Padding of the field around the working image, so that every loop closes inside it.
const PAD: usize = 3;
/// The smoothing takes a part one pixel wide below ½ (a third at most) and shortens one two pixels wide, so the
/// field is held at least this high on the mask's thin parts and at most `1 −` this on its thin gaps: the outline
/// then passes about half a pixel outside a thin part's pixels (a leg one pixel wide stays about one wide, its tip
/// where the mask has it) and a slit between two legs stays open. Above 0.80, so that a line one pixel wide running
/// diagonally stays one line (the saddles between its pixels, whose other corners the smoothing leaves at 0.20,
/// average above ½). Elsewhere the smoothing alone decides.
const THIN_HOLD: f32 = 0.85;
/// How many pixels a thin part or gap must run on for to be held (a notch or a stray pixel on an edge is not one).
const MIN_THIN_RUN: usize = 4;

/// The mask smoothed by two 3×3 box filters, padded with zeros, with its thin parts and gaps held on their side of
/// ½ ([`THIN_HOLD`]).
#[derive(Debug, Clone)]
pub(crate) struct Field {
    /// Width of the padded grid.
    pub w: usize,
    /// Height of the padded grid.
    pub h: usize,
    /// Row-major values in 0..=1.
    pub values: Vec<f32>,
    /// The mask's width, and which of its pixels are on a thin part (row-major over the mask, unpadded).
    mask_width: usize,
    thin_parts: Vec<bool>,
}

impl Field {
    /// Builds the smoothed field of `mask`.
    pub fn from_mask(mask: &Mask) -> Field {
        let (mw, mh) = (mask.width as usize, mask.height as usize);
        let (w, h) = (mw + 2 * PAD, mh + 2 * PAD);
        let mut values = vec![0.0f32; w * h];
        for y in 0..mh {
            for x in 0..mw {
                values[(y + PAD) * w + x + PAD] = f32::from(mask.data[y * mw + x]);
            }
        }
        for _ in 0..2 {
            values = box3(&values, w, h);
        }
        let thin = mask::thin_parts_and_gaps(&mask.data, mw, mh, MIN_THIN_RUN);
        for y in 0..mh {
            for x in 0..mw {
                let (j, value) = (y * mw + x, &mut values[(y + PAD) * w + x + PAD]);
                if thin.parts[j] {
                    *value = value.max(THIN_HOLD);
                } else if thin.gaps[j] {
                    *value = value.min(1.0 - THIN_HOLD);
                }
            }
        }
        Field { w, h, values, mask_width: mw, thin_parts: thin.parts }
    }

    /// Whether the working pixel at working-image coordinates `(x, y)` is on one of the mask's thin parts (whose
    /// pixels are all rim: the texture keeps their own colours rather than eroding them away).
    pub fn on_thin_part(&self, x: f64, y: f64) -> bool {
        if x < 0.0 || y < 0.0 {
            return false;
        }
        let (px, py) = (x as usize, y as usize);
        px < self.mask_width && self.thin_parts.get(py * self.mask_width + px).copied().unwrap_or(false)
    }

    /// Bilinear sample at working-image coordinates (pixel edges at integers, centres at +0.5).
    pub fn sample(&self, x: f64, y: f64) -> f32 {
        let gx = x - 0.5 + PAD as f64;
        let gy = y - 0.5 + PAD as f64;
        if !(gx >= 0.0 && gy >= 0.0) {
            return 0.0;
        }
        let x0 = gx.floor() as usize;
        let y0 = gy.floor() as usize;
        if x0 + 1 >= self.w || y0 + 1 >= self.h {
            return 0.0;
        }
        let tx = (gx - x0 as f64) as f32;
        let ty = (gy - y0 as f64) as f32;
        let v = |xx: usize, yy: usize| self.values[yy * self.w + xx];
        let top = v(x0, y0) * (1.0 - tx) + v(x0 + 1, y0) * tx;
        let bottom = v(x0, y0 + 1) * (1.0 - tx) + v(x0 + 1, y0 + 1) * tx;
        top * (1.0 - ty) + bottom * ty
    }
}

fn box3(values: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut tmp = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 1..w.saturating_sub(1) {
            let i = y * w + x;
            tmp[i] = (values[i - 1] + values[i] + values[i + 1]) / 3.0;
        }
    }
    let mut out = vec![0.0f32; w * h];
    for y in 1..h.saturating_sub(1) {
        for x in 0..w {
            let i = y * w + x;
            out[i] = (tmp[i - w] + tmp[i] + tmp[i + w]) / 3.0;
        }
    }
    out
}

/// A closed polyline in working-image coordinates; the last point connects to the first.
pub(crate) type Loop = Vec<[f64; 2]>;

/// The silhouette: one outer loop and the loops of its holes.
#[derive(Debug, Clone)]
pub(crate) struct Outline {
    /// The outer boundary.
    pub outer: Loop,
    /// Boundaries of holes inside `outer`.
    pub holes: Vec<Loop>,
}

/// Signed area by the shoelace formula (positive for counter-clockwise in y-up axes).
pub(crate) fn signed_area(points: &[[f64; 2]]) -> f64 {
    let n = points.len();
    let mut sum = 0.0;
    for i in 0..n {
        let a = points[i];
        let b = points[(i + 1) % n];
        sum += a[0] * b[1] - b[0] * a[1];
    }
    sum / 2.0
}

fn point_in_polygon(p: [f64; 2], poly: &[[f64; 2]]) -> bool {
    let mut inside = false;
    let n = poly.len();
    let mut j = n.wrapping_sub(1);
    for i in 0..n {
        let (a, b) = (poly[i], poly[j]);
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
            if p[0] < x {
                inside = !inside;
            }
        }
        j = i;
    }
    inside
}

/// Marching squares at iso 0.5 with saddles resolved by the cell's mean; returns every outer loop with its holes,
/// largest first, or `None` when there is no loop.
pub(crate) fn trace(field: &Field) -> Option<Vec<Outline>> {
    let (w, h) = (field.w, field.h);
    let iso = 0.5f32;
    let v = |x: usize, y: usize| field.values[y * w + x];
    let inside = |x: usize, y: usize| v(x, y) >= iso;
    // Edge ids: horizontal edge from node (x, y) to (x+1, y) is y*w+x; vertical edge from (x, y) to (x, y+1) is
    // w*h + y*w + x. `next[e]` is the edge the contour leaves to after entering a cell through edge `e`.
    let n_edges = 2 * w * h;
    let mut next = vec![u32::MAX; n_edges];
    for y in 0..h.saturating_sub(1) {
        for x in 0..w.saturating_sub(1) {
            let corners = [(x, y), (x + 1, y), (x + 1, y + 1), (x, y + 1)];
            let ins = corners.map(|(cx, cy)| inside(cx, cy));
            if ins.iter().all(|&b| b) || ins.iter().all(|&b| !b) {
                continue;
            }
            // Cell edges in clockwise order (on screen): top, right, bottom, left.
            let edges = [y * w + x, w * h + y * w + x + 1, (y + 1) * w + x, w * h + y * w + x];
            let mut entries = [0usize; 2];
            let mut exits = [0usize; 2];
            let (mut n_in, mut n_out) = (0, 0);
            for k in 0..4 {
                let a = ins[k];
                let b = ins[(k + 1) % 4];
                if !a && b {
                    entries[n_in] = k;
                    n_in += 1;
                } else if a && !b {
                    exits[n_out] = k;
                    n_out += 1;
                }
            }
            if n_in == 1 {
                next[edges[entries[0]]] = edges[exits[0]] as u32;
            } else {
                // Saddle: entries and exits alternate clockwise. Pair each entry with the following exit when the
                // centre is outside, or with the preceding exit (joining the inside corners) when inside.
                let centre = corners.iter().map(|&(cx, cy)| v(cx, cy)).sum::<f32>() / 4.0;
                let follow = |e: usize| -> usize {
                    let mut k = (e + 1) % 4;
                    loop {
                        if exits.contains(&k) {
                            return k;
                        }
                        k = (k + 1) % 4;
                    }
                };
                let precede = |e: usize| -> usize {
                    let mut k = (e + 3) % 4;
                    loop {
                        if exits.contains(&k) {
                            return k;
                        }
                        k = (k + 3) % 4;
                    }
                };
                for &e in &entries {
                    let x_out = if centre >= iso { precede(e) } else { follow(e) };
                    next[edges[e]] = edges[x_out] as u32;
                }
            }
        }
    }
    let position = |e: usize| -> [f64; 2] {
        let (horizontal, id) = if e < w * h { (true, e) } else { (false, e - w * h) };
        let (x, y) = (id % w, id / w);
        let a = v(x, y);
        let b = if horizontal { v(x + 1, y) } else { v(x, y + 1) };
        let t = if (b - a).abs() > f32::EPSILON { f64::from(((iso - a) / (b - a)).clamp(0.0, 1.0)) } else { 0.5 };
        let (gx, gy) = if horizontal { (x as f64 + t, y as f64) } else { (x as f64, y as f64 + t) };
        [gx - PAD as f64 + 0.5, gy - PAD as f64 + 0.5]
    };
    let mut visited = vec![false; n_edges];
    let mut loops: Vec<Loop> = Vec::new();
    for start in 0..n_edges {
        if next[start] == u32::MAX || visited[start] {
            continue;
        }
        let mut points = Vec::new();
        let mut e = start;
        let mut closed = false;
        while !visited[e] {
            visited[e] = true;
            points.push(position(e));
            let n = next[e];
            if n == u32::MAX {
                break;
            }
            e = n as usize;
            if e == start {
                closed = true;
                break;
            }
        }
        if closed && points.len() >= 4 {
            loops.push(points);
        }
    }
    // Outer loops and holes have opposite orientation; the outer loop of the largest area decides the sign.
    let (largest, _) = loops
        .iter()
        .enumerate()
        .map(|(i, l)| (i, signed_area(l)))
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()).then(b.0.cmp(&a.0)))?;
    let outer_sign = signed_area(&loops[largest]).signum();
    let (outers, holes): (Vec<Loop>, Vec<Loop>) =
        loops.into_iter().partition(|l| signed_area(l).signum() == outer_sign);
    let mut outlines: Vec<Outline> = outers.into_iter().map(|outer| Outline { outer, holes: Vec::new() }).collect();
    // Each hole belongs to the smallest outer loop around it (an island inside a ring's hole is its own part).
    for hole in holes {
        let owner = outlines
            .iter()
            .enumerate()
            .filter(|(_, o)| point_in_polygon(hole[0], &o.outer))
            .min_by(|a, b| signed_area(&a.1.outer).abs().total_cmp(&signed_area(&b.1.outer).abs()))
            .map(|(i, _)| i);
        if let Some(i) = owner {
            outlines[i].holes.push(hole);
        }
    }
    outlines.sort_by(|a, b| signed_area(&b.outer).abs().total_cmp(&signed_area(&a.outer).abs()));
    Some(outlines)
}

impl Outline {
    /// The area inside the outer loop and outside the holes, in square working pixels.
    pub fn area(&self) -> f64 {
        signed_area(&self.outer).abs() - self.holes.iter().map(|h| signed_area(h).abs()).sum::<f64>()
    }
}

fn dp_recurse(points: &[[f64; 2]], first: usize, last: usize, tol2: f64, keep: &mut [bool]) {
    if last <= first + 1 {
        return;
    }
    let a = points[first];
    let b = points[last % points.len()];
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let mut best = (0.0f64, first);
    for (i, p) in points.iter().enumerate().take(last).skip(first + 1) {
        let d2 = if len2 > 0.0 {
            let cross = dx * (p[1] - a[1]) - dy * (p[0] - a[0]);
            cross * cross / len2
        } else {
            (p[0] - a[0]).powi(2) + (p[1] - a[1]).powi(2)
        };
        if d2 > best.0 {
            best = (d2, i);
        }
    }
    if best.0 > tol2 {
        keep[best.1] = true;
        dp_recurse(points, first, best.1, tol2, keep);
        dp_recurse(points, best.1, last, tol2, keep);
    }
}

/// Douglas–Peucker on a closed loop with tolerance `tol` pixels.
pub(crate) fn simplify(points: &[[f64; 2]], tol: f64) -> Loop {
    let n = points.len();
    if n < 4 {
        return points.to_vec();
    }
    let far = (1..n)
        .max_by(|&i, &j| {
            let di = (points[i][0] - points[0][0]).powi(2) + (points[i][1] - points[0][1]).powi(2);
            let dj = (points[j][0] - points[0][0]).powi(2) + (points[j][1] - points[0][1]).powi(2);
            di.total_cmp(&dj).then(j.cmp(&i))
        })
        .unwrap_or(n / 2);
    let mut keep = vec![false; n];
    keep[0] = true;
    keep[far] = true;
    let tol2 = tol * tol;
    dp_recurse(points, 0, far, tol2, &mut keep);
    // The second half runs from `far` around to index n (which is point 0 again).
    dp_recurse(points, far, n, tol2, &mut keep);
    points.iter().zip(&keep).filter(|(_, k)| **k).map(|(p, _)| *p).collect()
}

/// Splits every segment longer than `edge` into equal parts no longer than `edge`.
pub(crate) fn subdivide(points: &[[f64; 2]], edge: f64) -> Loop {
    let n = points.len();
    let mut out = Vec::with_capacity(n * 2);
    for i in 0..n {
        let a = points[i];
        let b = points[(i + 1) % n];
        let len = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
        let parts = ((len / edge).ceil() as usize).clamp(1, 1 << 16);
        for k in 0..parts {
            let t = k as f64 / parts as f64;
            out.push([a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MaskSource;

    fn ring_mask() -> Mask {
        let (w, h) = (120u32, 100u32);
        let data = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f64 + 0.5 - 60.0, (i / w) as f64 + 0.5 - 50.0);
                let r = (x * x + y * y).sqrt();
                u8::from((15.0..40.0).contains(&r))
            })
            .collect();
        Mask {
            width: w,
            height: h,
            data,
            foreground_fraction: 0.0,
            source: MaskSource::Alpha,
            n_parts: 1,
            confidence: 1.0,
            looked_closer: false,
        }
    }

    fn bounding(points: &[[f64; 2]]) -> [f64; 4] {
        points.iter().fold([f64::MAX, f64::MAX, f64::MIN, f64::MIN], |b, p| {
            [b[0].min(p[0]), b[1].min(p[1]), b[2].max(p[0]), b[3].max(p[1])]
        })
    }

    fn mask_of(w: u32, h: u32, inside: impl Fn(i64, i64) -> bool) -> Mask {
        let data = (0..w * h).map(|i| u8::from(inside(i64::from(i % w), i64::from(i / w)))).collect();
        Mask { data, ..Mask { width: w, height: h, ..ring_mask() } }
    }

    #[test]
    fn a_part_one_pixel_wide_keeps_its_length_and_a_slit_stays_open() {
        // A disc of radius 15 at (40, 40) with an antenna one pixel wide running right to x = 84 (its last pixel)
        // and one running diagonally up-left to (11, 11).
        let mask = mask_of(100, 80, |x, y| {
            let disc = (x - 40).pow(2) + (y - 40).pow(2) <= 225;
            disc || (y == 40 && (40..=84).contains(&x)) || (x == y && (11..=40).contains(&x))
        });
        let outlines = trace(&Field::from_mask(&mask)).expect("outline");
        let boxes: Vec<_> = outlines.iter().map(|o| (o.area(), bounding(&o.outer))).collect();
        assert_eq!(outlines.len(), 1, "{boxes:?}");
        let outer = &outlines[0].outer;
        let right = outer.iter().map(|p| p[0]).fold(f64::MIN, f64::max);
        assert!((84.5..=85.6).contains(&right), "the antenna's tip is at x = 85, the outline reaches {right}");
        let up_left = outer.iter().map(|p| p[0] + p[1]).fold(f64::MAX, f64::min);
        assert!(
            up_left <= 2.0 * 11.0 + 1.5,
            "the diagonal antenna's tip is at x + y = 22, the outline reaches {up_left}"
        );
        // About one pixel wide: the area over the disc's is the antennae's length (≈ 25 + 15·√2), not two or three
        // times it.
        let extra = signed_area(outer).abs() - std::f64::consts::PI * 225.0;
        assert!((25.0..90.0).contains(&extra), "{extra}");

        // Two blocks a one-pixel slit apart stay two parts.
        let mask = mask_of(60, 40, |x, y| (5..55).contains(&x) && (5..35).contains(&y) && x != 30);
        assert_eq!(trace(&Field::from_mask(&mask)).expect("outline").len(), 2);
    }

    #[test]
    fn a_stray_pixel_on_an_edge_is_smoothed_away() {
        let square = |x: i64, y: i64| (10..50).contains(&x) && (10..50).contains(&y);
        let plain = trace(&Field::from_mask(&mask_of(60, 60, square))).expect("outline");
        let bumped =
            trace(&Field::from_mask(&mask_of(60, 60, |x, y| square(x, y) || (x == 30 && y == 50)))).expect("outline");
        let top = |outlines: &[Outline]| outlines[0].outer.iter().map(|p| p[1]).fold(f64::MIN, f64::max);
        // Smoothed, the pixel lifts the outline by a third of a pixel; held, it would lift it by a whole one.
        assert!((top(&bumped) - top(&plain)).abs() < 0.5, "{} vs {}", top(&bumped), top(&plain));
    }

    #[test]
    fn ring_gives_one_outer_loop_and_one_hole() {
        let outlines = trace(&Field::from_mask(&ring_mask())).expect("outline");
        assert_eq!(outlines.len(), 1);
        let outline = &outlines[0];
        assert_eq!(outline.holes.len(), 1);
        let outer = signed_area(&outline.outer).abs();
        let hole = signed_area(&outline.holes[0]).abs();
        let pi = std::f64::consts::PI;
        assert!((outer / (pi * 1600.0) - 1.0).abs() < 0.03, "{outer}");
        assert!((hole / (pi * 225.0) - 1.0).abs() < 0.06, "{hole}");
        let simple = simplify(&outline.outer, 0.5);
        assert!(simple.len() < outline.outer.len());
        assert!((signed_area(&simple).abs() / outer - 1.0).abs() < 0.02);
    }
}
