//! Segmentation: the object's mask from the alpha channel, or from a colour model of the picture's border, and the
//! sanity gate that refuses pictures the method cannot handle.

use std::collections::VecDeque;

use image::RgbaImage;

use crate::MeshError;

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
    pub foreground_fraction: f32,
    /// True when the mask came from the alpha channel.
    #[cfg_attr(not(test), allow(dead_code))]
    pub from_alpha: bool,
}

/// Builds the mask and applies the sanity gate.
pub(crate) fn build_mask(work: &RgbaImage) -> Result<Mask, MeshError> {
    let (width, height) = work.dimensions();
    let n = width as usize * height as usize;
    if n == 0 {
        return Err(MeshError::ImageEmpty);
    }
    let raw = work.as_raw();
    let min_alpha = raw.chunks_exact(4).map(|p| p[3]).min().unwrap_or(255);
    let n_transparent = raw.chunks_exact(4).filter(|p| p[3] < 128).count();
    let use_alpha = min_alpha < 250 && n_transparent * 100 > n;
    let mut data = if use_alpha {
        raw.chunks_exact(4).map(|p| u8::from(p[3] >= 128)).collect::<Vec<u8>>()
    } else {
        colour_mask(work)
    };
    let w = width as usize;
    let h = height as usize;
    if !use_alpha {
        let radius = (w.min(h) / 300).max(1);
        data = erode(&data, w, h, radius);
        data = dilate(&data, w, h, radius);
    }
    let n_fg = data.iter().filter(|&&v| v == 1).count();
    let fraction = n_fg as f32 / n as f32;
    let min_fraction = if use_alpha { 0.002 } else { 0.03 };
    if n_fg == 0 || fraction < min_fraction {
        return Err(MeshError::no_object("No object stood out from the background"));
    }
    if fraction > 0.95 {
        return Err(MeshError::no_object("The object fills almost the whole picture, so its outline cannot be found"));
    }
    if !use_alpha {
        let border_total = 2 * (w + h) - 4;
        let border_fg = border_indices(w, h).filter(|&i| data[i] == 1).count();
        if border_fg as f64 > 0.4 * border_total as f64 {
            return Err(MeshError::no_object(
                "The object touches too much of the picture's edge to be separated from the background",
            ));
        }
    }
    let (labels, sizes) = label_components(&data, w, h, 1);
    let (best, best_size) = sizes
        .iter()
        .enumerate()
        .max_by_key(|&(i, &s)| (s, usize::MAX - i))
        .map(|(i, &s)| (i as u32 + 1, s))
        .unwrap_or((0, 0));
    if !use_alpha && (best_size as f64) < 0.9 * n_fg as f64 {
        return Err(MeshError::no_object("The picture shows several separate objects or a busy background"));
    }
    for (value, &label) in data.iter_mut().zip(&labels) {
        *value = u8::from(label == best);
    }
    let min_hole = if use_alpha { (best_size / 1000).max(16) } else { (best_size / 50).max(64) };
    fill_small_holes(&mut data, w, h, min_hole);
    let n_fg = data.iter().filter(|&&v| v == 1).count();
    Ok(Mask { width, height, data, foreground_fraction: n_fg as f32 / n as f32, from_alpha: use_alpha })
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

/// The border colour model: distance in CIELAB to the nearest border colour cluster, thresholded, then the
/// background is flood-filled from the picture's edge.
fn colour_mask(work: &RgbaImage) -> Vec<u8> {
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
    // Enclosed regions of background colour stay background only when large (a real hole, like a mug handle).
    let mut data: Vec<u8> = background.iter().map(|&b| 1 - b).collect();
    let enclosed: Vec<u8> = (0..w * h).map(|i| u8::from(background[i] == 0 && dist[i] <= threshold)).collect();
    let (labels, sizes) = label_components(&enclosed, w, h, 1);
    let n_fg = data.iter().filter(|&&v| v == 1).count();
    let min_hole = (n_fg / 50).max(64);
    for (i, &label) in labels.iter().enumerate() {
        if label > 0 && sizes[label as usize - 1] >= min_hole {
            data[i] = 0;
        }
    }
    data
}

/// 4-connected components of pixels equal to `value`: a label per pixel (0 = other value) and component sizes.
pub(crate) fn label_components(data: &[u8], w: usize, h: usize, value: u8) -> (Vec<u32>, Vec<usize>) {
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
            let neighbours = [
                (x > 0).then(|| i - 1),
                (x + 1 < w).then(|| i + 1),
                (y > 0).then(|| i - w),
                (y + 1 < h).then(|| i + w),
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

/// Fills background components that do not touch the border and are smaller than `min_hole` pixels.
fn fill_small_holes(data: &mut [u8], w: usize, h: usize, min_hole: usize) {
    let (labels, sizes) = label_components(data, w, h, 0);
    let mut touches = vec![false; sizes.len()];
    for i in border_indices(w, h) {
        if labels[i] > 0 {
            touches[labels[i] as usize - 1] = true;
        }
    }
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

    fn disc_on(bg: [u8; 4], fg: [u8; 4]) -> RgbaImage {
        RgbaImage::from_fn(200, 150, |x, y| {
            let (dx, dy) = (x as f32 - 100.0, y as f32 - 75.0);
            if dx * dx + dy * dy < 50.0 * 50.0 { image::Rgba(fg) } else { image::Rgba(bg) }
        })
    }

    #[test]
    fn colour_mask_finds_a_disc_on_plain_background() {
        let mask = build_mask(&disc_on([240, 240, 235, 255], [200, 40, 30, 255])).expect("mask");
        assert!(!mask.from_alpha);
        let expected = std::f32::consts::PI * 2500.0 / (200.0 * 150.0);
        assert!((mask.foreground_fraction - expected).abs() < 0.01, "{}", mask.foreground_fraction);
    }

    #[test]
    fn alpha_mask_is_exact() {
        let mask = build_mask(&disc_on([0, 0, 0, 0], [20, 200, 30, 255])).expect("mask");
        assert!(mask.from_alpha);
    }

    #[test]
    fn gate_rejects_blank_pictures() {
        let err = build_mask(&disc_on([255, 255, 255, 255], [255, 255, 255, 255])).expect_err("blank");
        assert_eq!(err.code(), "no_object_found");
    }
}
