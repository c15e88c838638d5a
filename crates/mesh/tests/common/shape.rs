//! How close a model's shape is to the true object's: the depth metric of the generator's documentation.
//!
//! Both meshes are in the photo's camera frame (x to the right, y up, +z toward the camera). The truth is
//! normalised to a longest side of 1; the model is aligned to it by its *front* silhouette only: one uniform scale
//! (the longer side of the front bounding boxes), the front bounding boxes' centres made equal, and the depth
//! centred on the truth's. Then: silhouette IoU seen from the front (+Z), the side (+X) and the top (+Y), the
//! ratio of depths, the Chamfer distance and F-scores at 5 % and 10 % of the longest side, from area-weighted
//! surface samples in both directions. Nothing is fitted in depth, so a model that is too flat or too deep pays
//! for it.
#![allow(dead_code)]

/// A triangle soup.
pub type Triangles = Vec<[[f64; 3]; 3]>;

/// Reads a binary STL (80-byte header, count, 50 bytes per triangle).
pub fn read_stl(bytes: &[u8]) -> Triangles {
    assert!(bytes.len() >= 84, "not a binary STL");
    let count = u32::from_le_bytes(bytes[80..84].try_into().unwrap()) as usize;
    assert_eq!(bytes.len(), 84 + 50 * count, "binary STL of {count} triangles");
    let float = |at: usize| f64::from(f32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()));
    (0..count)
        .map(|i| {
            let base = 84 + 50 * i + 12;
            [0, 1, 2].map(|v| [0, 1, 2].map(|d| float(base + 12 * v + 4 * d)))
        })
        .collect()
}

/// The per-object figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShapeScore {
    pub iou_front: f64,
    pub iou_side: f64,
    pub iou_top: f64,
    /// The model's depth (z extent) over the truth's, after the front alignment.
    pub depth_ratio: f64,
    /// Mean of both directions' mean nearest-sample distance, in units of the truth's longest side.
    pub chamfer: f64,
    pub f_score_5: f64,
    pub f_score_10: f64,
}

impl ShapeScore {
    /// The figures in the order the reports print them: front, side and top IoU, depth ratio, Chamfer, F-scores.
    pub fn figures(&self) -> [f64; 7] {
        [self.iou_front, self.iou_side, self.iou_top, self.depth_ratio, self.chamfer, self.f_score_5, self.f_score_10]
    }
}

fn bounds(tris: &Triangles) -> ([f64; 3], [f64; 3]) {
    let mut lo = [f64::MAX; 3];
    let mut hi = [f64::MIN; 3];
    for t in tris {
        for p in t {
            for d in 0..3 {
                lo[d] = lo[d].min(p[d]);
                hi[d] = hi[d].max(p[d]);
            }
        }
    }
    (lo, hi)
}

/// The model moved onto the truth by the front silhouette alone (see the module's documentation).
pub fn align_by_front(model: &Triangles, truth: &Triangles) -> Triangles {
    let (mlo, mhi) = bounds(model);
    let (tlo, thi) = bounds(truth);
    let scale = (thi[0] - tlo[0]).max(thi[1] - tlo[1]) / (mhi[0] - mlo[0]).max(mhi[1] - mlo[1]);
    let centre = |lo: [f64; 3], hi: [f64; 3]| [0, 1, 2].map(|d| (lo[d] + hi[d]) / 2.0);
    let (mc, tc) = (centre(mlo, mhi), centre(tlo, thi));
    model.iter().map(|t| t.map(|p| [0, 1, 2].map(|d| (p[d] - mc[d]) * scale + tc[d]))).collect()
}

/// The silhouette seen along axis `view` (0 = x, 1 = y, 2 = z) on a `size`² grid over `window` (lo, hi of the two
/// remaining axes).
fn silhouette(tris: &Triangles, view: usize, window: ([f64; 2], [f64; 2]), size: usize) -> Vec<bool> {
    let (a, b) = match view {
        0 => (2, 1),
        1 => (0, 2),
        _ => (0, 1),
    };
    let (lo, hi) = window;
    let cell = [(hi[0] - lo[0]) / size as f64, (hi[1] - lo[1]) / size as f64];
    let mut image = vec![false; size * size];
    for t in tris {
        let q = t.map(|p| [(p[a] - lo[0]) / cell[0], (p[b] - lo[1]) / cell[1]]);
        let area = (q[1][0] - q[0][0]) * (q[2][1] - q[0][1]) - (q[1][1] - q[0][1]) * (q[2][0] - q[0][0]);
        if area.abs() < 1e-12 {
            continue;
        }
        let min_x = q.iter().map(|p| p[0]).fold(f64::MAX, f64::min).floor().max(0.0) as usize;
        let max_x = (q.iter().map(|p| p[0]).fold(f64::MIN, f64::max).ceil() as usize).min(size);
        let min_y = q.iter().map(|p| p[1]).fold(f64::MAX, f64::min).floor().max(0.0) as usize;
        let max_y = (q.iter().map(|p| p[1]).fold(f64::MIN, f64::max).ceil() as usize).min(size);
        for y in min_y..max_y {
            for x in min_x..max_x {
                let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                let edge = |i: usize, j: usize| {
                    ((q[j][0] - q[i][0]) * (py - q[i][1]) - (q[j][1] - q[i][1]) * (px - q[i][0])) * area.signum()
                };
                if edge(0, 1) >= 0.0 && edge(1, 2) >= 0.0 && edge(2, 0) >= 0.0 {
                    image[y * size + x] = true;
                }
            }
        }
    }
    image
}

fn iou(first: &[bool], second: &[bool]) -> f64 {
    let both = first.iter().zip(second).filter(|(a, b)| **a && **b).count();
    let either = first.iter().zip(second).filter(|(a, b)| **a || **b).count();
    if either == 0 { 1.0 } else { both as f64 / either as f64 }
}

/// `n` points on the surface, area-weighted, from a fixed-seed generator (the same meshes give the same points).
pub fn sample_surface(tris: &Triangles, n: usize) -> Vec<[f64; 3]> {
    let areas: Vec<f64> = tris
        .iter()
        .map(|t| {
            let e1 = [0, 1, 2].map(|d| t[1][d] - t[0][d]);
            let e2 = [0, 1, 2].map(|d| t[2][d] - t[0][d]);
            let c = [e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]];
            0.5 * (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]).sqrt()
        })
        .collect();
    let total: f64 = areas.iter().sum();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut uniform = move || {
        // SplitMix64: enough for sampling, and the same sequence everywhere.
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    // Stratified along the cumulative area, so small meshes are covered evenly.
    let mut points = Vec::with_capacity(n);
    let mut cumulative = 0.0;
    let mut next = 0usize;
    for (t, area) in tris.iter().zip(&areas) {
        cumulative += area;
        while next < n && (next as f64 + 0.5) / n as f64 * total <= cumulative {
            let (mut r1, mut r2) = (uniform(), uniform());
            if r1 + r2 > 1.0 {
                r1 = 1.0 - r1;
                r2 = 1.0 - r2;
            }
            points.push([0, 1, 2].map(|d| t[0][d] + r1 * (t[1][d] - t[0][d]) + r2 * (t[2][d] - t[0][d])));
            next += 1;
        }
    }
    points
}

/// Nearest-neighbour distances from each of `queries` to `points`, through a uniform grid.
fn nearest_distances(queries: &[[f64; 3]], points: &[[f64; 3]]) -> Vec<f64> {
    let cell = 0.02;
    let key = |p: &[f64; 3]| p.map(|c| (c / cell).floor() as i64);
    let mut grid: std::collections::HashMap<[i64; 3], Vec<usize>> = std::collections::HashMap::new();
    for (i, p) in points.iter().enumerate() {
        grid.entry(key(p)).or_default().push(i);
    }
    queries
        .iter()
        .map(|q| {
            let k = key(q);
            let mut best = f64::MAX;
            let mut ring = 0i64;
            // Shell `ring` holds every point within `ring·cell` of the query; stop once that bounds the best.
            while ring < 200 && !(best.is_finite() && best < ring as f64 * cell) {
                for dx in -ring..=ring {
                    for dy in -ring..=ring {
                        for dz in -ring..=ring {
                            if dx.abs().max(dy.abs()).max(dz.abs()) != ring {
                                continue;
                            }
                            if let Some(bucket) = grid.get(&[k[0] + dx, k[1] + dy, k[2] + dz]) {
                                for &i in bucket {
                                    let p = points[i];
                                    let d = (0..3).map(|d| (p[d] - q[d]).powi(2)).sum::<f64>().sqrt();
                                    best = best.min(d);
                                }
                            }
                        }
                    }
                }
                ring += 1;
            }
            best
        })
        .collect()
}

/// The silhouettes of the (aligned) model and the truth seen from the front, the side and the top, each on a
/// `size`² grid over both: `[(model, truth); 3]`.
pub fn silhouettes(model: &Triangles, truth: &Triangles, size: usize) -> [(Vec<bool>, Vec<bool>); 3] {
    let (mlo, mhi) = bounds(model);
    let (tlo, thi) = bounds(truth);
    let (lo, hi) = ([0, 1, 2].map(|d| mlo[d].min(tlo[d])), [0, 1, 2].map(|d| mhi[d].max(thi[d])));
    let pad = 0.02;
    let window = |a: usize, b: usize| ([lo[a] - pad, lo[b] - pad], [hi[a] + pad, hi[b] + pad]);
    let views = [(2, window(0, 1)), (0, window(2, 1)), (1, window(0, 2))];
    views.map(|(view, w)| (silhouette(model, view, w, size), silhouette(truth, view, w, size)))
}

/// Scores `model` against `truth` (which is normalised to a longest side of 1).
pub fn score(model: &Triangles, truth: &Triangles) -> ShapeScore {
    let model = align_by_front(model, truth);
    let (mlo, mhi) = bounds(&model);
    let (tlo, thi) = bounds(truth);
    let ious = silhouettes(&model, truth, 256).map(|(m, t)| iou(&m, &t));
    let longest = (0..3).map(|d| thi[d] - tlo[d]).fold(0.0, f64::max);
    let model_points = sample_surface(&model, 20_000);
    let truth_points = sample_surface(truth, 20_000);
    let to_truth = nearest_distances(&model_points, &truth_points);
    let to_model = nearest_distances(&truth_points, &model_points);
    let mean = |d: &[f64]| d.iter().sum::<f64>() / d.len().max(1) as f64;
    let f_score = |tau: f64| {
        let precision = to_truth.iter().filter(|&&d| d <= tau * longest).count() as f64 / to_truth.len() as f64;
        let recall = to_model.iter().filter(|&&d| d <= tau * longest).count() as f64 / to_model.len() as f64;
        if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 }
    };
    ShapeScore {
        iou_front: ious[0],
        iou_side: ious[1],
        iou_top: ious[2],
        depth_ratio: (mhi[2] - mlo[2]) / (thi[2] - tlo[2]),
        chamfer: (mean(&to_truth) + mean(&to_model)) / 2.0 / longest,
        f_score_5: f_score(0.05),
        f_score_10: f_score(0.10),
    }
}

/// The median of `values`.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}
