//! The texture: the photo's crop around the object, front-projected, with the object's colour bled outward past
//! the silhouette so that the rim never samples background, encoded as a square power-of-two JPEG.

use std::collections::VecDeque;

use image::codecs::jpeg::JpegEncoder;
use image::{RgbImage, RgbaImage};

use crate::GenerateError;
use crate::contour::Field;
use crate::decode::Decoded;
use crate::export::Texture;

/// JPEG quality of the texture.
const JPEG_QUALITY: u8 = 90;

/// The crop of the full image that the texture covers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Crop {
    /// Full-resolution pixel rectangle: x, y, width, height.
    pub full: [u32; 4],
    /// The same rectangle in working coordinates: x0, y0, x1, y1.
    pub work: [f64; 4],
}

/// The crop around the working-coordinate box `bbox` (x0, y0, x1, y1), with a small margin.
pub(crate) fn crop_for(bbox: [f64; 4], decoded: &Decoded) -> Crop {
    let f = f64::from(decoded.factor);
    let (fw, fh) = decoded.full.dimensions();
    let margin = 2.0;
    let x0 = ((bbox[0] - margin) * f).floor().clamp(0.0, f64::from(fw - 1)) as u32;
    let y0 = ((bbox[1] - margin) * f).floor().clamp(0.0, f64::from(fh - 1)) as u32;
    let x1 = ((bbox[2] + margin) * f).ceil().clamp(f64::from(x0 + 1), f64::from(fw)) as u32;
    let y1 = ((bbox[3] + margin) * f).ceil().clamp(f64::from(y0 + 1), f64::from(fh)) as u32;
    Crop {
        full: [x0, y0, x1 - x0, y1 - y0],
        work: [f64::from(x0) / f, f64::from(y0) / f, f64::from(x1) / f, f64::from(y1) / f],
    }
}

/// Makes the `size`×`size` texture for `crop`, with its JPEG encoding.
pub(crate) fn bake(decoded: &Decoded, field: &Field, crop: &Crop, size: u32) -> Result<Texture, GenerateError> {
    let mut texture = resample(&decoded.full, crop.full, size);
    let n = size as usize;
    // Inside texels: the smoothed mask at the texel centre, eroded so the rim's mixed colours are replaced, except
    // on the mask's thin parts (a leg one pixel wide is all rim: eroded, it would take the body's colour).
    let [wx0, wy0, wx1, wy1] = crop.work;
    let mut inside = vec![false; n * n];
    let mut thin = vec![false; n * n];
    for ty in 0..n {
        let wy = wy0 + (ty as f64 + 0.5) / n as f64 * (wy1 - wy0);
        for tx in 0..n {
            let wx = wx0 + (tx as f64 + 0.5) / n as f64 * (wx1 - wx0);
            inside[ty * n + tx] = field.sample(wx, wy) >= 0.5;
            thin[ty * n + tx] = inside[ty * n + tx] && field.on_thin_part(wx, wy);
        }
    }
    let texels_per_work = n as f64 / (wx1 - wx0).min(wy1 - wy0).max(1e-9);
    let radius = ((1.5 * texels_per_work).ceil() as usize).clamp(1, 16);
    let mut inside = erode(&inside, n, radius);
    for (texel, &on_thin_part) in inside.iter_mut().zip(&thin) {
        *texel |= on_thin_part;
    }
    bleed(texture.as_mut(), &inside, n);
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
        .encode_image(&texture)
        .map_err(|err| GenerateError::EncodeFailed { reason: err.to_string() })?;
    Ok(Texture { image: texture, jpeg: bytes })
}

/// The `size`×`size` RGB picture of the full image's rectangle `[x, y, w, h]`: an integer box reduction when the
/// rectangle is at least twice the texture, then bilinear interpolation at texel centres. The region is never
/// copied at full resolution.
fn resample(full: &RgbaImage, rect: [u32; 4], size: u32) -> RgbImage {
    let [x, y, w, h] = rect;
    let g = (w.max(h) / size).max(1);
    let (rw, rh) = ((w / g).max(1) as usize, (h / g).max(1) as usize);
    let (fw, fh) = full.dimensions();
    let src = full.as_raw();
    let stride = fw as usize * 4;
    let reduced: Vec<u8> = if g > 1 {
        let mut sums = vec![0u32; rw * 3];
        let mut out = Vec::with_capacity(rw * rh * 3);
        let count = g * g;
        for ry in 0..rh {
            sums.iter_mut().for_each(|v| *v = 0);
            for ry_sub in 0..g {
                let sy = (y + ry as u32 * g + ry_sub).min(fh - 1) as usize;
                let row = &src[sy * stride..(sy + 1) * stride];
                for rx in 0..rw {
                    for rx_sub in 0..g {
                        let sx = (x + rx as u32 * g + rx_sub).min(fw - 1) as usize;
                        for c in 0..3 {
                            sums[rx * 3 + c] += u32::from(row[sx * 4 + c]);
                        }
                    }
                }
            }
            out.extend(sums.iter().map(|&v| ((v + count / 2) / count) as u8));
        }
        out
    } else {
        Vec::new()
    };
    let fetch = |xx: usize, yy: usize, c: usize| -> f32 {
        if g > 1 {
            f32::from(reduced[(yy * rw + xx) * 3 + c])
        } else {
            let sx = (x as usize + xx).min(fw as usize - 1);
            let sy = (y as usize + yy).min(fh as usize - 1);
            f32::from(src[sy * stride + sx * 4 + c])
        }
    };
    let n = size as usize;
    let coord = |t: usize, extent: u32, len: usize| -> (usize, usize, f32) {
        let c = ((t as f64 + 0.5) / n as f64 * f64::from(extent) / f64::from(g) - 0.5).clamp(0.0, (len - 1) as f64);
        let i0 = c.floor() as usize;
        let i1 = (i0 + 1).min(len - 1);
        (i0, i1, (c - i0 as f64) as f32)
    };
    let xs: Vec<(usize, usize, f32)> = (0..n).map(|t| coord(t, w, rw)).collect();
    let mut out = RgbImage::new(size, size);
    let buf: &mut [u8] = out.as_mut();
    for ty in 0..n {
        let (y0, y1, fy) = coord(ty, h, rh);
        for (tx, &(x0, x1, fx)) in xs.iter().enumerate() {
            for c in 0..3 {
                let top = fetch(x0, y0, c) * (1.0 - fx) + fetch(x1, y0, c) * fx;
                let bottom = fetch(x0, y1, c) * (1.0 - fx) + fetch(x1, y1, c) * fx;
                buf[(ty * n + tx) * 3 + c] = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// Square erosion of radius `radius` by running counts (linear in the texel count whatever the radius).
fn erode(inside: &[bool], n: usize, radius: usize) -> Vec<bool> {
    // A texel survives when its window holds no outside texel; count outside texels in a sliding window.
    let window = |get: &dyn Fn(usize) -> bool, set: &mut dyn FnMut(usize, bool)| {
        let mut outside = 0usize;
        for k in 0..radius.min(n) {
            outside += usize::from(!get(k));
        }
        for k in 0..n {
            if k + radius < n {
                outside += usize::from(!get(k + radius));
            }
            if k > radius {
                outside -= usize::from(!get(k - radius - 1));
            }
            set(k, outside == 0);
        }
    };
    let mut rows = vec![false; n * n];
    for y in 0..n {
        let line = &inside[y * n..(y + 1) * n];
        let (head, _) = rows.split_at_mut((y + 1) * n);
        let target = &mut head[y * n..];
        window(&|k| line[k], &mut |k, v| target[k] = v);
    }
    let mut out = vec![false; n * n];
    for x in 0..n {
        window(&|k| rows[k * n + x], &mut |k, v| out[k * n + x] = v);
    }
    if out.iter().any(|&b| b) { out } else { inside.to_vec() }
}

/// Every texel outside takes the colour of the nearest inside texel (breadth-first, 4-connected).
fn bleed(rgb: &mut [u8], inside: &[bool], n: usize) {
    let mut known = inside.to_vec();
    // Start from the frontier only: inside texels with an outside neighbour.
    let frontier = |i: usize| {
        let (x, y) = (i % n, i / n);
        (x > 0 && !inside[i - 1])
            || (x + 1 < n && !inside[i + 1])
            || (y > 0 && !inside[i - n])
            || (y + 1 < n && !inside[i + n])
    };
    let mut queue: VecDeque<u32> = (0..n * n).filter(|&i| inside[i] && frontier(i)).map(|i| i as u32).collect();
    if !inside.iter().any(|&b| b) {
        rgb.fill(128);
        return;
    }
    while let Some(i) = queue.pop_front() {
        let i = i as usize;
        let (x, y) = (i % n, i / n);
        let neighbours =
            [(x > 0).then(|| i - 1), (x + 1 < n).then(|| i + 1), (y > 0).then(|| i - n), (y + 1 < n).then(|| i + n)];
        for j in neighbours.into_iter().flatten() {
            if !known[j] {
                known[j] = true;
                let (src, dst) = (i * 3, j * 3);
                rgb.copy_within(src..src + 3, dst);
                queue.push_back(j as u32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_erode(inside: &[bool], n: usize, radius: usize) -> Vec<bool> {
        let out: Vec<bool> = (0..n * n)
            .map(|i| {
                let (x, y) = ((i % n) as isize, (i / n) as isize);
                let r = radius as isize;
                (-r..=r).all(|dy| {
                    (-r..=r).all(|dx| {
                        let (xx, yy) = (x + dx, y + dy);
                        xx < 0
                            || yy < 0
                            || xx >= n as isize
                            || yy >= n as isize
                            || inside[yy as usize * n + xx as usize]
                    })
                })
            })
            .collect();
        // Like `erode`, keep the input when nothing survives.
        if out.iter().any(|&b| b) { out } else { inside.to_vec() }
    }

    #[test]
    fn a_part_one_pixel_wide_keeps_its_own_colour() {
        // A red disc with a blue antenna one pixel wide running right from it, on white.
        let (w, h) = (120u32, 80u32);
        let on_disc = |x: u32, y: u32| (x as f64 - 40.0).powi(2) + (y as f64 - 40.0).powi(2) <= 20.0 * 20.0;
        let on_antenna = |x: u32, y: u32| y == 40 && (40..110).contains(&x);
        let work = RgbaImage::from_fn(w, h, |x, y| match (on_disc(x, y), on_antenna(x, y)) {
            (true, _) => image::Rgba([220, 30, 30, 255]),
            (false, true) => image::Rgba([30, 30, 220, 255]),
            _ => image::Rgba([255, 255, 255, 255]),
        });
        let data = (0..w * h).map(|i| u8::from(on_disc(i % w, i / w) || on_antenna(i % w, i / w))).collect();
        let mask = crate::mask::Mask {
            width: w,
            height: h,
            data,
            foreground_fraction: 0.1,
            source: crate::MaskSource::Alpha,
            n_parts: 1,
            confidence: 1.0,
            looked_closer: false,
        };
        let field = Field::from_mask(&mask);
        let decoded = Decoded { full: work.clone(), work, factor: 1 };
        let crop = Crop { full: [0, 0, w, h], work: [0.0, 0.0, f64::from(w), f64::from(h)] };
        let texture = bake(&decoded, &field, &crop, 256).expect("a texture");
        // Along the antenna, half-way out (x = 85 of 120, y = 40 of 80).
        let texel = texture.image.get_pixel(85 * 256 / 120, 40 * 256 / 80 + 1).0;
        assert!(texel[2] > 150 && texel[0] < 120, "the antenna's texels are blue, not the disc's red: {texel:?}");
    }

    #[test]
    fn running_count_erosion_matches_the_definition() {
        let n = 23;
        let inside: Vec<bool> = (0..n * n)
            .map(|i| {
                let (x, y) = ((i % n) as f64 - 11.0, (i / n) as f64 - 10.0);
                x * x + y * y < 80.0 && (i % 37 != 3)
            })
            .collect();
        for radius in [1, 2, 4] {
            assert!(naive_erode(&inside, n, radius) != inside || radius > 2);
            assert_eq!(erode(&inside, n, radius), naive_erode(&inside, n, radius), "radius {radius}");
        }
    }

    #[test]
    fn bleed_fills_every_texel_from_the_nearest_inside() {
        let n = 8;
        let mut inside = vec![false; n * n];
        inside[3 * n + 3] = true;
        let mut rgb = vec![0u8; n * n * 3];
        rgb[(3 * n + 3) * 3..(3 * n + 3) * 3 + 3].copy_from_slice(&[10, 20, 30]);
        bleed(&mut rgb, &inside, n);
        assert!(rgb.chunks_exact(3).all(|p| p == [10, 20, 30]));
    }
}
