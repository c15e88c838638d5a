//! Mask building blocks: the alpha channel, the border colour model, connected parts, holes and morphology. Which
//! of them (or the network) makes a picture's mask is decided in `segment.rs`.

use std::collections::VecDeque;

use image::RgbaImage;

use crate::MaskSource;

/// A binary mask over the working image: 1 is object, 0 is background.
#[derive(Debug, Clone)]
pub(crate) struct Mask {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Row-major, one byte per pixel, 0 or 1.
    pub data: Vec<u8>,
    /// Fraction of the image that is object.
    #[cfg_attr(not(test), allow(dead_code))]
    pub foreground_fraction: f32,
    /// Which evidence the mask came from.
    pub source: MaskSource,
    /// Separate parts (connected components) kept.
    pub n_parts: usize,
    /// How sure the segmentation is of this mask, 0..=1: 1 for the alpha channel, which is exact; for an estimated
    /// mask the lesser of the learned map's figure (where the network made it) and the outline's support by the
    /// photo's edges (see `segment::confidence` and `segment::outline_support`).
    pub confidence: f32,
    /// Whether the network took a second, closer look at the object (see `closer.rs`).
    pub looked_closer: bool,
}

/// The border colour model's mask and how much it can be trusted.
#[derive(Debug, Clone)]
pub(crate) struct ColourModel {
    /// Row-major, 0 or 1, before clean-up.
    pub data: Vec<u8>,
    /// Each pixel's CIELAB distance to the nearest background colour.
    pub distance: Vec<f32>,
    /// Each pixel in CIELAB.
    pub lab: Vec<[f32; 3]>,
    /// True when the border is one plain, evenly lit colour (the background clusters lie close together and the
    /// border ring stays close to them): then the colour model is exact and preferred to the network.
    pub plain_background: bool,
}

/// Keeps every significant part of `data` (a connected component of at least 2 % of the largest one and at least
/// 0.05 % of the picture, at most [`MAX_PARTS`] of them, largest first), drops the specks and fills holes smaller
/// than `min_hole_fraction` of the largest part. Returns the number of parts kept.
pub(crate) fn keep_parts(data: &mut [u8], w: usize, h: usize, min_hole_fraction: f64) -> usize {
    let (labels, sizes) = label_components(data, w, h, 1);
    let Some(&largest) = sizes.iter().max() else {
        return 0;
    };
    let min_size = ((largest as f64 * 0.02).max((w * h) as f64 * 0.0005)).max(16.0) as usize;
    let mut order: Vec<usize> = (0..sizes.len()).filter(|&k| sizes[k] >= min_size).collect();
    order.sort_by_key(|&k| (usize::MAX - sizes[k], k));
    order.truncate(MAX_PARTS);
    let mut keep = vec![false; sizes.len()];
    for &k in &order {
        keep[k] = true;
    }
    for (value, &label) in data.iter_mut().zip(&labels) {
        *value = u8::from(label > 0 && keep[label as usize - 1]);
    }
    let min_hole = ((largest as f64 * min_hole_fraction) as usize).max(16);
    fill_small_holes(data, w, h, min_hole);
    order.len()
}

/// The most parts a model is made of; smaller ones are dropped.
pub(crate) const MAX_PARTS: usize = 64;

/// The alpha channel as a mask when the picture really uses it (`min α < 250` and more than 1 % of the pixels
/// below 128), else `None`.
pub(crate) fn alpha_mask(work: &RgbaImage) -> Option<Vec<u8>> {
    let raw = work.as_raw();
    let n = raw.len() / 4;
    let min_alpha = raw.chunks_exact(4).map(|p| p[3]).min().unwrap_or(255);
    let n_transparent = raw.chunks_exact(4).filter(|p| p[3] < 128).count();
    is_real_alpha(min_alpha, n_transparent, n).then(|| raw.chunks_exact(4).map(|p| u8::from(p[3] >= 128)).collect())
}

/// Whether an alpha channel cuts an object out: some pixel below 250 and more than 1 % of the `n` pixels below 128.
pub(crate) fn is_real_alpha(min_alpha: u8, n_transparent: usize, n: usize) -> bool {
    min_alpha < 250 && n_transparent * 100 > n
}

/// Removes details thinner than about 1/150 of the picture's shorter side (an opening), as the colour model's
/// threshold leaves ragged edges and specks.
pub(crate) fn open(data: &[u8], w: usize, h: usize) -> Vec<u8> {
    let radius = (w.min(h) / 300).max(1);
    dilate(&erode(data, w, h, radius), w, h, radius)
}

fn border_indices(w: usize, h: usize) -> impl Iterator<Item = usize> {
    let top = 0..w;
    let bottom = (h - 1) * w..h * w;
    let sides = (1..h.saturating_sub(1)).flat_map(move |y| [y * w, y * w + w - 1]);
    top.chain(if h > 1 { bottom } else { 0..0 }).chain(sides)
}

/// Converts sRGB bytes to CIELAB (D65).
fn lab_image(work: &RgbaImage) -> Vec<[f32; 3]> {
    let lut: Vec<f32> = (0..256)
        .map(|i| {
            let c = i as f32 / 255.0;
            if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        })
        .collect();
    let f = |t: f32| {
        if t > 0.008_856 { t.cbrt() } else { 7.787 * t + 16.0 / 116.0 }
    };
    work.as_raw()
        .chunks_exact(4)
        .map(|p| {
            let r = lut[p[0] as usize];
            let g = lut[p[1] as usize];
            let b = lut[p[2] as usize];
            let x = (0.412_456_4 * r + 0.357_576_1 * g + 0.180_437_5 * b) / 0.950_47;
            let y = 0.212_672_9 * r + 0.715_152_2 * g + 0.072_175 * b;
            let z = (0.019_333_9 * r + 0.119_192 * g + 0.950_304_1 * b) / 1.088_83;
            let (fx, fy, fz) = (f(x), f(y), f(z));
            [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
        })
        .collect()
}

fn dist2(a: &[f32; 3], b: &[f32; 3]) -> f32 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)
}

/// Deterministic k-means: farthest-point seeding, a fixed number of Lloyd iterations. Returns centres and weights.
fn kmeans(samples: &[[f32; 3]], k: usize) -> Vec<([f32; 3], usize)> {
    let mut centres: Vec<[f32; 3]> = Vec::with_capacity(k);
    let Some(first) = samples.first() else {
        return Vec::new();
    };
    let mean = samples.iter().fold([0.0f32; 3], |acc, s| [acc[0] + s[0], acc[1] + s[1], acc[2] + s[2]]);
    let mean = mean.map(|v| v / samples.len() as f32);
    let nearest_to_mean = samples.iter().min_by(|a, b| dist2(a, &mean).total_cmp(&dist2(b, &mean))).unwrap_or(first);
    centres.push(*nearest_to_mean);
    while centres.len() < k {
        let far = samples
            .iter()
            .max_by(|a, b| {
                let da = centres.iter().map(|c| dist2(a, c)).fold(f32::MAX, f32::min);
                let db = centres.iter().map(|c| dist2(b, c)).fold(f32::MAX, f32::min);
                da.total_cmp(&db)
            })
            .unwrap_or(first);
        if centres.iter().any(|c| dist2(c, far) < 1.0) {
            break;
        }
        centres.push(*far);
    }
    let mut weights = vec![0usize; centres.len()];
    for _ in 0..10 {
        let mut sums = vec![[0.0f64; 3]; centres.len()];
        weights.iter_mut().for_each(|w| *w = 0);
        for s in samples {
            let (best, _) = centres
                .iter()
                .enumerate()
                .map(|(i, c)| (i, dist2(s, c)))
                .fold((0, f32::MAX), |acc, x| if x.1 < acc.1 { x } else { acc });
            weights[best] += 1;
            for d in 0..3 {
                sums[best][d] += f64::from(s[d]);
            }
        }
        for (i, c) in centres.iter_mut().enumerate() {
            if weights[i] > 0 {
                *c = sums[i].map(|v| (v / weights[i] as f64) as f32);
            }
        }
    }
    centres.into_iter().zip(weights).collect()
}

fn otsu(values: &[f32], max_value: f32) -> f32 {
    const BINS: usize = 256;
    if max_value <= 0.0 {
        return 0.0;
    }
    let mut hist = [0u64; BINS];
    for &v in values {
        let bin = ((v / max_value) * (BINS - 1) as f32).clamp(0.0, (BINS - 1) as f32) as usize;
        hist[bin] += 1;
    }
    let total = values.len() as f64;
    let sum_all: f64 = hist.iter().enumerate().map(|(i, &c)| i as f64 * c as f64).sum();
    let (mut w_b, mut sum_b, mut best, mut best_var) = (0.0f64, 0.0f64, 0usize, -1.0f64);
    for (i, &c) in hist.iter().enumerate() {
        w_b += c as f64;
        if w_b == 0.0 {
            continue;
        }
        let w_f = total - w_b;
        if w_f == 0.0 {
            break;
        }
        sum_b += i as f64 * c as f64;
        let m_b = sum_b / w_b;
        let m_f = (sum_all - sum_b) / w_f;
        let var = w_b * w_f * (m_b - m_f) * (m_b - m_f);
        if var > best_var {
            best_var = var;
            best = i;
        }
    }
    (best as f32 + 0.5) / (BINS - 1) as f32 * max_value
}

/// Pixels of `object` (the colour model's raw mask) that look like a shadow on the background: the background's
/// colour (the border ring's median) dimmed to between 20 % and 97 % of its brightness, within 14 levels per
/// channel. A background darker than about 40 levels has no visible shadows; then none are reported.
pub(crate) fn shadow_like(work: &RgbaImage, object: &[u8]) -> Vec<bool> {
    let (w, h) = (work.width() as usize, work.height() as usize);
    let raw = work.as_raw();
    let ring = (w.min(h) / 40).max(2);
    let mut channels: [Vec<u8>; 3] = Default::default();
    for y in 0..h {
        for x in 0..w {
            if x < ring || y < ring || x + ring >= w || y + ring >= h {
                let p = &raw[(y * w + x) * 4..(y * w + x) * 4 + 3];
                for c in 0..3 {
                    channels[c].push(p[c]);
                }
            }
        }
    }
    let background = channels.map(|mut v| {
        v.sort_unstable();
        f64::from(v.get(v.len() / 2).copied().unwrap_or(0))
    });
    let norm2: f64 = background.iter().map(|b| b * b).sum();
    if norm2 < 3.0 * 40.0 * 40.0 {
        return vec![false; w * h];
    }
    raw.chunks_exact(4)
        .zip(object)
        .map(|(p, &o)| {
            if o == 0 {
                return false;
            }
            let p = [f64::from(p[0]), f64::from(p[1]), f64::from(p[2])];
            let k = (p[0] * background[0] + p[1] * background[1] + p[2] * background[2]) / norm2;
            (0.2..=0.97).contains(&k) && (0..3).all(|c| (p[c] - k * background[c]).abs() <= 14.0)
        })
        .collect()
}

/// The largest CIELAB distance between background colours of a plain background.
const PLAIN_SPREAD: f32 = 14.0;
/// The largest 98th percentile of the border ring's distance to them.
const PLAIN_RING: f32 = 10.0;

/// The border colour model: distance in CIELAB to the nearest border colour cluster, thresholded, then the
/// background is flood-filled from the picture's edge.
pub(crate) fn colour_mask(work: &RgbaImage) -> ColourModel {
    let (width, height) = work.dimensions();
    let (w, h) = (width as usize, height as usize);
    let lab = lab_image(work);
    let ring = (w.min(h) / 40).max(2);
    let mut ring_idx = Vec::new();
    for y in 0..h {
        for x in 0..w {
            if x < ring || y < ring || x + ring >= w || y + ring >= h {
                ring_idx.push(y * w + x);
            }
        }
    }
    let step = (ring_idx.len() / 4000).max(1);
    let sampled: Vec<usize> = ring_idx.iter().step_by(step).copied().collect();
    let samples: Vec<[f32; 3]> = sampled.iter().map(|&i| lab[i]).collect();
    let clusters = kmeans(&samples, 4);
    let nearest = |p: &[f32; 3]| -> usize {
        clusters
            .iter()
            .enumerate()
            .map(|(k, (c, _))| (k, dist2(p, c)))
            .fold((0, f32::MAX), |acc, x| if x.1 < acc.1 { x } else { acc })
            .0
    };
    // A border cluster is background when it is common on the border and present in a corner: an object that
    // touches the frame shows up on the border but rarely fills a corner.
    let corner = (w.min(h) / 10).max(ring);
    let mut corner_counts = vec![[0usize; 4]; clusters.len()];
    let mut corner_totals = [0usize; 4];
    for (&i, s) in sampled.iter().zip(&samples) {
        let (x, y) = (i % w, i / w);
        let which = match (x < corner, x + corner >= w, y < corner, y + corner >= h) {
            (true, _, true, _) => Some(0),
            (_, true, true, _) => Some(1),
            (true, _, _, true) => Some(2),
            (_, true, _, true) => Some(3),
            _ => None,
        };
        if let Some(c) = which {
            corner_counts[nearest(s)][c] += 1;
            corner_totals[c] += 1;
        }
    }
    let n_samples = samples.len().max(1);
    let kept: Vec<bool> = clusters
        .iter()
        .enumerate()
        .map(|(k, (_, weight))| {
            let in_corner = (0..4).any(|c| corner_totals[c] > 0 && corner_counts[k][c] * 10 >= corner_totals[c]);
            *weight * 20 >= n_samples && (in_corner || *weight * 10 >= n_samples * 4)
        })
        .collect();
    let mut centres: Vec<[f32; 3]> =
        clusters.iter().zip(&kept).filter(|(_, keep)| **keep).map(|((c, _), _)| *c).collect();
    if centres.is_empty() {
        centres = clusters.iter().map(|(c, _)| *c).collect();
    }
    let dist: Vec<f32> =
        lab.iter().map(|p| centres.iter().map(|c| dist2(p, c)).fold(f32::MAX, f32::min).sqrt()).collect();
    let mut ring_d: Vec<f32> = sampled
        .iter()
        .zip(&samples)
        .filter(|(_, s)| kept.get(nearest(s)).copied().unwrap_or(true))
        .map(|(&i, _)| dist[i])
        .collect();
    ring_d.sort_by(f32::total_cmp);
    let p98 = ring_d.get(ring_d.len() * 98 / 100).copied().unwrap_or(0.0);
    let max_d = dist.iter().copied().fold(0.0f32, f32::max);
    let threshold = otsu(&dist, max_d).max(p98).max(6.0);
    // Plain and evenly lit: the background colours lie within a small distance of each other (no gradient, no
    // texture) and almost all of the border ring is close to them.
    let spread = centres.iter().flat_map(|a| centres.iter().map(move |b| dist2(a, b).sqrt())).fold(0.0f32, f32::max);
    let plain_background = spread <= PLAIN_SPREAD && p98 <= PLAIN_RING;
    // Background: reachable from the border through pixels close to a border colour.
    let mut background = vec![0u8; w * h];
    let mut queue = VecDeque::new();
    for i in border_indices(w, h) {
        if dist[i] <= threshold && background[i] == 0 {
            background[i] = 1;
            queue.push_back(i);
        }
    }
    while let Some(i) = queue.pop_front() {
        let (x, y) = (i % w, i / w);
        let mut visit = |j: usize| {
            if background[j] == 0 && dist[j] <= threshold {
                background[j] = 1;
                queue.push_back(j);
            }
        };
        if x > 0 {
            visit(i - 1);
        }
        if x + 1 < w {
            visit(i + 1);
        }
        if y > 0 {
            visit(i - w);
        }
        if y + 1 < h {
            visit(i + w);
        }
    }
    // Enclosed regions of background colour are holes (a mug's handle) when they are large and look like the
    // background itself: their median distance from it within what the border ring's own spread allows. A surface
    // of nearly the background's colour (a cartoon's white belly, shaded a few levels darker) stays solid.
    let mut data: Vec<u8> = background.iter().map(|&b| 1 - b).collect();
    let enclosed: Vec<u8> = (0..w * h).map(|i| u8::from(background[i] == 0 && dist[i] <= threshold)).collect();
    let (labels, sizes) = label_components(&enclosed, w, h, 1);
    let n_fg = data.iter().filter(|&&v| v == 1).count();
    let min_hole = (n_fg / 50).max(64);
    let mut inside: Vec<Vec<f32>> = vec![Vec::new(); sizes.len()];
    for (i, &label) in labels.iter().enumerate() {
        if label > 0 && sizes[label as usize - 1] >= min_hole {
            inside[label as usize - 1].push(dist[i]);
        }
    }
    let likeness = (HOLE_RING_FACTOR * p98).max(MIN_HOLE_LIKENESS);
    let is_hole: Vec<bool> = inside
        .iter_mut()
        .map(|d| {
            d.sort_unstable_by(f32::total_cmp);
            !d.is_empty() && d[d.len() / 2] <= likeness
        })
        .collect();
    for (i, &label) in labels.iter().enumerate() {
        if label > 0 && is_hole[label as usize - 1] {
            data[i] = 0;
        }
    }
    ColourModel { data, distance: dist, lab, plain_background }
}

/// An enclosed region of background colour is a hole when its median distance from the background is at most this
/// multiple of the border ring's 98th percentile, and at least [`MIN_HOLE_LIKENESS`] (JPEG noise on a flat colour).
const HOLE_RING_FACTOR: f32 = 2.0;
const MIN_HOLE_LIKENESS: f32 = 3.0;

/// The most CIELAB distance from the colours around the object at which a hole's pixel shows that background.
const HOLE_MATCH: f32 = 12.0;
/// The colours sampled around the object for the hole test, at most.
const RING_SAMPLES: usize = 4000;

/// Fills the holes of an estimated mask through which the background does not show: an enclosed region is kept
/// open only when most of its pixels have a colour of the background just around the object (within
/// [`HOLE_MATCH`] of a palette of that ring's colours). A dark spot on a wing, an eye or a logo's inner detail
/// differs from the background around the object and is filled; the loop of a handle or the gap in a frame shows
/// that background and stays open.
pub(crate) fn fill_foreign_holes(data: &mut [u8], lab: &[[f32; 3]], w: usize, h: usize) {
    let (labels, sizes) = label_components(data, w, h, 0);
    let touches = reaching_border(&labels, sizes.len(), w, h);
    if touches.iter().all(|&t| t) {
        return;
    }
    // The ring of background around the object: within a few pixels of it, past its anti-aliased edge.
    let reach = (w.min(h) / 100).max(4);
    let near = dilate(data, w, h, reach);
    let edge = dilate(data, w, h, 2);
    let ring: Vec<usize> = (0..w * h)
        .filter(|&i| near[i] == 1 && edge[i] == 0 && labels[i] > 0 && touches[labels[i] as usize - 1])
        .collect();
    let step = (ring.len() / RING_SAMPLES).max(1);
    let samples: Vec<[f32; 3]> = ring.iter().step_by(step).map(|&i| lab[i]).collect();
    if samples.is_empty() {
        return;
    }
    let palette: Vec<[f32; 3]> = kmeans(&samples, 8).into_iter().map(|(c, _)| c).collect();
    let (mut matching, mut totals) = (vec![0usize; sizes.len()], vec![0usize; sizes.len()]);
    for (i, &label) in labels.iter().enumerate() {
        if label > 0 && !touches[label as usize - 1] {
            let k = label as usize - 1;
            totals[k] += 1;
            let nearest = palette.iter().map(|c| dist2(&lab[i], c)).fold(f32::MAX, f32::min);
            matching[k] += usize::from(nearest <= HOLE_MATCH * HOLE_MATCH);
        }
    }
    for (value, &label) in data.iter_mut().zip(&labels) {
        if label > 0 {
            let k = label as usize - 1;
            if !touches[k] && matching[k] * 2 < totals[k] {
                *value = 1;
            }
        }
    }
}

/// The parts of `candidates` (1 = candidate) that touch the outside: the background of `mask` connected to the
/// picture's border. Candidates the object encloses are dropped.
pub(crate) fn touching_outside(candidates: &[u8], mask: &[u8], w: usize, h: usize) -> Vec<bool> {
    let (outside_labels, outside_sizes) = label_components(mask, w, h, 0);
    let outer = reaching_border(&outside_labels, outside_sizes.len(), w, h);
    let is_outside = |i: usize| outside_labels[i] > 0 && outer[outside_labels[i] as usize - 1];
    let (labels, sizes) = label_components(candidates, w, h, 1);
    let mut touches = vec![false; sizes.len()];
    for (i, &label) in labels.iter().enumerate() {
        if label == 0 || touches[label as usize - 1] {
            continue;
        }
        let (x, y) = (i % w, i / w);
        let neighbours =
            [(x > 0).then(|| i - 1), (x + 1 < w).then(|| i + 1), (y > 0).then(|| i - w), (y + 1 < h).then(|| i + w)];
        if neighbours.into_iter().flatten().any(is_outside) {
            touches[label as usize - 1] = true;
        }
    }
    labels.iter().map(|&label| label > 0 && touches[label as usize - 1]).collect()
}

/// 4-connected components of pixels equal to `value`: a label per pixel (0 = other value) and component sizes.
pub(crate) fn label_components(data: &[u8], w: usize, h: usize, value: u8) -> (Vec<u32>, Vec<usize>) {
    label(data, w, h, value, false)
}

/// [`label_components`] with pixels that touch at a corner connected too (8-connectivity): a line one pixel wide
/// running diagonally is one component.
pub(crate) fn label_components_diagonal(data: &[u8], w: usize, h: usize, value: u8) -> (Vec<u32>, Vec<usize>) {
    label(data, w, h, value, true)
}

fn label(data: &[u8], w: usize, h: usize, value: u8, diagonal: bool) -> (Vec<u32>, Vec<usize>) {
    let mut labels = vec![0u32; w * h];
    let mut sizes = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if data[start] != value || labels[start] != 0 {
            continue;
        }
        let label = sizes.len() as u32 + 1;
        let mut size = 0usize;
        labels[start] = label;
        stack.push(start);
        while let Some(i) = stack.pop() {
            size += 1;
            let (x, y) = (i % w, i / w);
            let (left, right, up, down) = (x > 0, x + 1 < w, y > 0, y + 1 < h);
            let neighbours = [
                left.then(|| i - 1),
                right.then(|| i + 1),
                up.then(|| i - w),
                down.then(|| i + w),
                (diagonal && left && up).then(|| i - w - 1),
                (diagonal && right && up).then(|| i - w + 1),
                (diagonal && left && down).then(|| i + w - 1),
                (diagonal && right && down).then(|| i + w + 1),
            ];
            for j in neighbours.into_iter().flatten() {
                if data[j] == value && labels[j] == 0 {
                    labels[j] = label;
                    stack.push(j);
                }
            }
        }
        sizes.push(size);
    }
    (labels, sizes)
}

/// The parts of a mask thinner than three pixels and the gaps in it narrower than three pixels.
#[derive(Debug, Clone)]
pub(crate) struct Thin {
    /// Object pixels a 3×3 opening removes (a leg, an antenna, a strap one or two pixels wide).
    pub parts: Vec<bool>,
    /// Background pixels a 3×3 closing fills (the slit between two legs).
    pub gaps: Vec<bool>,
}

/// Finds the thin parts and gaps of `data` (see [`Thin`]), each kept only where it runs on for at least
/// `min_pixels` pixels (8-connected), so that a stray pixel or a notch on an edge is not one.
pub(crate) fn thin_parts_and_gaps(data: &[u8], w: usize, h: usize, min_pixels: usize) -> Thin {
    let opened = dilate(&erode(data, w, h, 1), w, h, 1);
    let closed = erode(&dilate(data, w, h, 1), w, h, 1);
    // A run and the pixels of its own side next to it: where a thin part joins a thick one, the opening keeps the
    // joint's pixels (a 3×3 square fits across them), and the run must reach into the thick part to stay joined.
    let runs = |marked: Vec<u8>, side: u8| -> Vec<bool> {
        let (labels, sizes) = label_components_diagonal(&marked, w, h, 1);
        let long: Vec<u8> =
            labels.iter().map(|&label| u8::from(label > 0 && sizes[label as usize - 1] >= min_pixels)).collect();
        dilate(&long, w, h, 1).iter().zip(data).map(|(&near, &d)| near == 1 && d == side).collect()
    };
    let parts = runs(data.iter().zip(&opened).map(|(&d, &o)| u8::from(d == 1 && o == 0)).collect(), 1);
    let gaps = runs(data.iter().zip(&closed).map(|(&d, &c)| u8::from(d == 0 && c == 1)).collect(), 0);
    Thin { parts, gaps }
}

/// For each of the `n` components in `labels` (from [`label_components`]), whether it reaches the picture's border.
fn reaching_border(labels: &[u32], n: usize, w: usize, h: usize) -> Vec<bool> {
    let mut reaches = vec![false; n];
    for i in border_indices(w, h) {
        if labels[i] > 0 {
            reaches[labels[i] as usize - 1] = true;
        }
    }
    reaches
}

/// Fills background components that do not touch the border and are smaller than `min_hole` pixels.
fn fill_small_holes(data: &mut [u8], w: usize, h: usize, min_hole: usize) {
    let (labels, sizes) = label_components(data, w, h, 0);
    let touches = reaching_border(&labels, sizes.len(), w, h);
    for (value, &label) in data.iter_mut().zip(&labels) {
        if label > 0 {
            let k = label as usize - 1;
            if !touches[k] && sizes[k] < min_hole {
                *value = 1;
            }
        }
    }
}

fn morph(data: &[u8], w: usize, h: usize, radius: usize, keep: u8) -> Vec<u8> {
    // Separable square structuring element; `keep` is the value that wins (0 erodes, 1 dilates).
    let mut tmp = data.to_vec();
    for y in 0..h {
        let row = &data[y * w..(y + 1) * w];
        for x in 0..w {
            let lo = x.saturating_sub(radius);
            let hi = (x + radius).min(w - 1);
            if row[lo..=hi].contains(&keep) {
                tmp[y * w + x] = keep;
            }
        }
    }
    let mut out = tmp.clone();
    for y in 0..h {
        let lo = y.saturating_sub(radius);
        let hi = (y + radius).min(h - 1);
        for x in 0..w {
            if (lo..=hi).any(|yy| tmp[yy * w + x] == keep) {
                out[y * w + x] = keep;
            }
        }
    }
    out
}

fn erode(data: &[u8], w: usize, h: usize, radius: usize) -> Vec<u8> {
    morph(data, w, h, radius, 0)
}

fn dilate(data: &[u8], w: usize, h: usize, radius: usize) -> Vec<u8> {
    morph(data, w, h, radius, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `w`×`h` picture of `background` with a filled disc of `ring` (radius 60) around a disc of `inner`
    /// (radius 30), both centred.
    fn ring_on(w: u32, h: u32, background: [u8; 3], ring: [u8; 3], inner: [u8; 3]) -> RgbaImage {
        RgbaImage::from_fn(w, h, |x, y| {
            let (dx, dy) = (x as f32 - w as f32 / 2.0, y as f32 - h as f32 / 2.0);
            let r = (dx * dx + dy * dy).sqrt();
            let [r0, g0, b0] = if r < 30.0 {
                inner
            } else if r < 60.0 {
                ring
            } else {
                background
            };
            image::Rgba([r0, g0, b0, 255])
        })
    }

    fn at_centre(data: &[u8], w: u32, h: u32) -> u8 {
        data[(h / 2 * w + w / 2) as usize]
    }

    #[test]
    fn the_background_seen_through_a_ring_is_a_hole_and_a_shaded_pale_surface_is_not() {
        let (w, h) = (240, 200);
        let hole = colour_mask(&ring_on(w, h, [255, 255, 255], [20, 20, 20], [255, 255, 255]));
        assert_eq!(at_centre(&hole.data, w, h), 0, "the backdrop shows through the ring");
        // A white belly shaded a few levels grey inside a dark outline: near the backdrop's colour, but not it.
        let belly = colour_mask(&ring_on(w, h, [255, 255, 255], [20, 20, 20], [240, 240, 238]));
        assert_eq!(at_centre(&belly.data, w, h), 1, "the pale surface is the object's");
    }

    #[test]
    fn holes_that_show_the_background_around_the_object_stay_open_and_others_are_filled() {
        // A grey square on green with two enclosed regions: a green window and a black spot.
        let (w, h) = (200usize, 160usize);
        let inside = |x: usize, y: usize, x0: usize, y0: usize, side: usize| {
            (x0..x0 + side).contains(&x) && (y0..y0 + side).contains(&y)
        };
        let picture = RgbaImage::from_fn(w as u32, h as u32, |x, y| {
            let (x, y) = (x as usize, y as usize);
            if inside(x, y, 40, 30, 120) && !inside(x, y, 60, 60, 30) && !inside(x, y, 110, 60, 30) {
                image::Rgba([128, 128, 128, 255])
            } else if inside(x, y, 110, 60, 30) {
                image::Rgba([5, 5, 5, 255])
            } else {
                image::Rgba([40, 160, 60, 255])
            }
        });
        // The estimated mask: the square with both regions left out, as a network might give it.
        let mut data: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                u8::from(inside(x, y, 40, 30, 120) && !inside(x, y, 60, 60, 30) && !inside(x, y, 110, 60, 30))
            })
            .collect();
        fill_foreign_holes(&mut data, &lab_image(&picture), w, h);
        assert_eq!(data[75 * w + 75], 0, "the window shows the green around the object");
        assert_eq!(data[75 * w + 125], 1, "the black spot is the object's");
    }

    #[test]
    fn only_candidates_touching_the_outside_are_reported() {
        // A 9×5 mask: an object with an enclosed pixel at (4, 2); candidates there and at the outside (0, 0).
        let (w, h) = (9usize, 5usize);
        let mask: Vec<u8> = (0..w * h)
            .map(|i| u8::from((2..7).contains(&(i % w)) && (1..4).contains(&(i / w)) && i != 2 * w + 4))
            .collect();
        let mut candidates = vec![0u8; w * h];
        candidates[2 * w + 4] = 1;
        candidates[0] = 1;
        let touching = touching_outside(&candidates, &mask, w, h);
        assert!(touching[0]);
        assert!(!touching[2 * w + 4]);
    }
}
