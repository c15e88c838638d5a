//! Edge refinement of a coarse soft mask against the photo: the guided filter (He, Sun and Tang, "Guided Image
//! Filtering", TPAMI 2013) with the photo's colours as the guide. The network's map is only 320×320; the filter
//! makes its edges follow the photo's edges at the working resolution, which keeps thin parts and removes the
//! background bleed a plain upsampling leaves.
//!
//! Written here because no maintained pure-Rust crate offers a colour-guided filter; it is box filters (integral
//! images) and a 3×3 solve per pixel.

use image::RgbaImage;

/// Bilinear sample of a `w`×`h` row-major grid at grid coordinates (cell centres at integers), clamped to its
/// edges.
pub(crate) fn bilinear(grid: &[f64], w: usize, h: usize, gx: f64, gy: f64) -> f64 {
    let gx = gx.clamp(0.0, (w - 1) as f64);
    let gy = gy.clamp(0.0, (h - 1) as f64);
    let (x0, y0) = (gx.floor() as usize, gy.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (tx, ty) = (gx - x0 as f64, gy - y0 as f64);
    let v = |x: usize, y: usize| grid[y * w + x];
    (v(x0, y0) * (1.0 - tx) + v(x1, y0) * tx) * (1.0 - ty) + (v(x0, y1) * (1.0 - tx) + v(x1, y1) * tx) * ty
}

/// Sum over the `(2r+1)²` window around each pixel of a `w`×`h` row-major grid, clipped at the grid's edges, by an
/// integral image; `value(i)` is the grid's value at index `i`. Also used by the closer look to count pixels.
pub(crate) fn box_sum(value: impl Fn(usize) -> f64, w: usize, h: usize, r: usize) -> Vec<f64> {
    let stride = w + 1;
    let mut integral = vec![0.0f64; stride * (h + 1)];
    for y in 0..h {
        let mut row = 0.0;
        for x in 0..w {
            row += value(y * w + x);
            integral[(y + 1) * stride + x + 1] = integral[y * stride + x + 1] + row;
        }
    }
    let mut out = vec![0.0f64; w * h];
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(w));
            out[y * w + x] = integral[y1 * stride + x1] - integral[y0 * stride + x1] - integral[y1 * stride + x0]
                + integral[y0 * stride + x0];
        }
    }
    out
}

/// Mean over the `(2r+1)²` window around each pixel, clipped at the image's edges.
fn box_mean(values: &[f64], w: usize, h: usize, r: usize) -> Vec<f64> {
    let mut out = box_sum(|i| values[i], w, h, r);
    for y in 0..h {
        let rows = (y + r + 1).min(h) - y.saturating_sub(r);
        for x in 0..w {
            let columns = (x + r + 1).min(w) - x.saturating_sub(r);
            out[y * w + x] /= (rows * columns) as f64;
        }
    }
    out
}

/// Solves the symmetric 3×3 system `m·a = v` by Cramer's rule; `m` is positive definite here (covariance + ε·I).
fn solve3(m: [[f64; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(m);
    if d.abs() < 1e-18 {
        return [0.0; 3];
    }
    let mut out = [0.0; 3];
    for (k, slot) in out.iter_mut().enumerate() {
        let mut mk = m;
        for row in 0..3 {
            mk[row][k] = v[row];
        }
        *slot = det(mk) / d;
    }
    out
}

/// The fast colour-guided filter (He and Sun, 2015) of `input` (values in 0..=1 over `guide`'s pixels): the
/// filter's linear coefficients are fitted on a copy reduced `factor` times, with window radius `r` (in reduced
/// pixels) and regularisation `eps` (on colours in 0..=1), then upsampled and applied to the full guide. The result
/// is clamped to 0..=1. Fitting at a reduced size keeps the memory at about 20 doubles per reduced pixel.
pub(crate) fn guided_filter(guide: &RgbaImage, input: &[f32], factor: u32, r: usize, eps: f64) -> Vec<f32> {
    let (w, h) = (guide.width() as usize, guide.height() as usize);
    let factor = factor.max(1) as usize;
    let (lw, lh) = ((w / factor).max(1), (h / factor).max(1));
    let low = crate::decode::box_reduce(guide, factor as u32);
    let mut p = vec![0.0f64; lw * lh];
    for (i, slot) in p.iter_mut().enumerate() {
        let (lx, ly) = (i % lw, i / lw);
        let mut sum = 0.0;
        let mut count = 0usize;
        for y in ly * factor..((ly + 1) * factor).min(h) {
            for x in lx * factor..((lx + 1) * factor).min(w) {
                sum += f64::from(input[y * w + x]);
                count += 1;
            }
        }
        *slot = sum / count.max(1) as f64;
    }
    let (coeff, offset) = coefficients(&low, &p, r, eps);
    // Bilinear upsampling of the coefficients, then q = a·I + b at full resolution; the rows are split between two
    // threads (each pixel is computed alone, so the result does not depend on the split).
    let sample = |grid: &[f64], gx: f64, gy: f64| bilinear(grid, lw, lh, gx, gy);
    let scale = 1.0 / factor as f64;
    let raw = guide.as_raw();
    let apply_rows = |rows: std::ops::Range<usize>, out: &mut [f32]| {
        for (y, row) in rows.zip(out.chunks_exact_mut(w)) {
            let gy = (y as f64 + 0.5) * scale - 0.5;
            for (x, slot) in row.iter_mut().enumerate() {
                let gx = (x as f64 + 0.5) * scale - 0.5;
                let px = &raw[(y * w + x) * 4..(y * w + x) * 4 + 3];
                let mut q = sample(&offset, gx, gy);
                for c in 0..3 {
                    q += sample(&coeff[c], gx, gy) * f64::from(px[c]) / 255.0;
                }
                *slot = q.clamp(0.0, 1.0) as f32;
            }
        }
    };
    let mut out = vec![0f32; w * h];
    let half = h / 2;
    let (top, bottom) = out.split_at_mut(half * w);
    std::thread::scope(|scope| {
        scope.spawn(|| apply_rows(0..half, top));
        apply_rows(half..h, bottom);
    });
    out
}

/// The guided filter's window-averaged linear coefficients `(a, b)` of `p` against the colours of `guide`.
fn coefficients(guide: &RgbaImage, p: &[f64], r: usize, eps: f64) -> ([Vec<f64>; 3], Vec<f64>) {
    let (w, h) = (guide.width() as usize, guide.height() as usize);
    let n = w * h;
    let channel =
        |c: usize| -> Vec<f64> { guide.as_raw().chunks_exact(4).map(|px| f64::from(px[c]) / 255.0).collect() };
    let colour = [channel(0), channel(1), channel(2)];
    let mean_i: Vec<Vec<f64>> = colour.iter().map(|c| box_mean(c, w, h, r)).collect();
    let mean_p = box_mean(p, w, h, r);
    let cov_ip: Vec<Vec<f64>> = colour
        .iter()
        .map(|c| {
            let ip: Vec<f64> = c.iter().zip(p).map(|(a, b)| a * b).collect();
            box_mean(&ip, w, h, r)
        })
        .collect();
    // Second moments of the guide's channels, upper triangle: rr, rg, rb, gg, gb, bb.
    let pairs = [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)];
    let second: Vec<Vec<f64>> = pairs
        .iter()
        .map(|&(a, b)| {
            let prod: Vec<f64> = colour[a].iter().zip(&colour[b]).map(|(x, y)| x * y).collect();
            box_mean(&prod, w, h, r)
        })
        .collect();
    let mut coeff = [vec![0.0f64; n], vec![0.0f64; n], vec![0.0f64; n]];
    let mut offset = vec![0.0f64; n];
    for i in 0..n {
        let mi = [mean_i[0][i], mean_i[1][i], mean_i[2][i]];
        let v = |k: usize| second[k][i] - mi[pairs[k].0] * mi[pairs[k].1];
        let sigma = [[v(0) + eps, v(1), v(2)], [v(1), v(3) + eps, v(4)], [v(2), v(4), v(5) + eps]];
        let cov = [0, 1, 2].map(|c| cov_ip[c][i] - mi[c] * mean_p[i]);
        let a = solve3(sigma, cov);
        for c in 0..3 {
            coeff[c][i] = a[c];
        }
        offset[i] = mean_p[i] - a[0] * mi[0] - a[1] * mi[1] - a[2] * mi[2];
    }
    let [a0, a1, a2] = coeff;
    ([box_mean(&a0, w, h, r), box_mean(&a1, w, h, r), box_mean(&a2, w, h, r)], box_mean(&offset, w, h, r))
}

/// The network's map, edges refined against the photo's colours. The filter's coefficients are fitted at about
/// 400 px on the longer side (a little above the network's 320), with a window of 4 such pixels.
pub(crate) fn refine_saliency(work: &RgbaImage, saliency: &[f32]) -> Vec<f32> {
    let longer = work.width().max(work.height());
    let factor = (longer / 400).max(1);
    guided_filter(work, saliency, factor, 4, 1e-3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shifted_soft_edge_moves_to_the_colour_edge() {
        // Left half red, right half blue; the input is a soft ramp whose ½ crossing is 6 px left of the colour
        // edge, as an upsampled coarse map would be.
        let (w, h) = (64usize, 16usize);
        let guide = RgbaImage::from_fn(w as u32, h as u32, |x, _| {
            if x < 32 { image::Rgba([200, 20, 20, 255]) } else { image::Rgba([20, 20, 200, 255]) }
        });
        let ramp = |x: usize| 1.0 - ((x as f32 - 14.0) / 24.0).clamp(0.0, 1.0);
        assert!(ramp(25) > 0.5 && ramp(27) < 0.5);
        let input: Vec<f32> = (0..w * h).map(|i| ramp(i % w)).collect();
        let out = guided_filter(&guide, &input, 1, 8, 1e-3);
        let row = &out[8 * w..9 * w];
        // Inside a flat colour the filter averages; across the colour edge it steps. The ½ crossing moves from 26
        // towards the edge, and the largest step sits on the edge.
        let crossing = row.iter().position(|&v| v < 0.5).expect("a crossing");
        assert!((29..=32).contains(&crossing), "{crossing}: {row:?}");
        let step =
            |row: &[f32]| (1..w).max_by(|&a, &b| (row[a - 1] - row[a]).total_cmp(&(row[b - 1] - row[b]))).unwrap_or(0);
        assert_eq!(step(row), 32, "{row:?}");
        assert!(row[31] - row[32] > 0.25, "{row:?}");
        // Coefficients fitted at half resolution put the step at the same place.
        let out = guided_filter(&guide, &input, 2, 4, 1e-3);
        assert!((31..=33).contains(&step(&out[8 * w..9 * w])));
    }
}
