//! The texture: the photo's crop around the object, front-projected, with the object's colour bled outward past
//! the silhouette so that the rim never samples background, encoded as a square power-of-two JPEG.

use std::collections::VecDeque;

use image::RgbaImage;
use image::codecs::jpeg::JpegEncoder;

use crate::MeshError;
use crate::contour::Field;
use crate::decode::Decoded;

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

/// Makes the `size`×`size` texture for `crop` and encodes it as JPEG.
pub(crate) fn bake(decoded: &Decoded, field: &Field, crop: &Crop, size: u32) -> Result<Vec<u8>, MeshError> {
    let mut texture = resample(&decoded.full, crop.full, size);
    let n = size as usize;
    // Inside texels: the smoothed mask at the texel centre, eroded so the rim's mixed colours are replaced.
    let [wx0, wy0, wx1, wy1] = crop.work;
    let mut inside = vec![false; n * n];
    for ty in 0..n {
        let wy = wy0 + (ty as f64 + 0.5) / n as f64 * (wy1 - wy0);
        for tx in 0..n {
            let wx = wx0 + (tx as f64 + 0.5) / n as f64 * (wx1 - wx0);
            inside[ty * n + tx] = field.sample(wx, wy) >= 0.5;
        }
    }
    let texels_per_work = n as f64 / (wx1 - wx0).min(wy1 - wy0).max(1e-9);
    let radius = ((1.5 * texels_per_work).ceil() as usize).clamp(1, 16);
    let inside = erode(&inside, n, radius);
    bleed(texture.as_mut(), &inside, n);
    let rgb = image::DynamicImage::ImageRgba8(std::mem::take(&mut texture)).into_rgb8();
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
        .encode_image(&rgb)
        .map_err(|err| MeshError::EncodeFailed { reason: err.to_string() })?;
    Ok(bytes)
}

/// The `size`×`size` picture of the full image's rectangle `[x, y, w, h]`: an integer box reduction straight from
/// the full image (no copy of the region), then bilinear interpolation at texel centres.
fn resample(full: &RgbaImage, rect: [u32; 4], size: u32) -> RgbaImage {
    let [x, y, w, h] = rect;
    let g = (w.max(h) / size).max(1);
    let (rw, rh) = ((w / g).max(1) as usize, (h / g).max(1) as usize);
    let (fw, fh) = full.dimensions();
    let src = full.as_raw();
    let stride = fw as usize * 4;
    // Box reduction into f32 RGBA.
    let mut reduced = vec![0.0f32; rw * rh * 4];
    for ry in 0..rh {
        for ry_sub in 0..g {
            let sy = (y + ry as u32 * g + ry_sub).min(fh - 1) as usize;
            let row = &src[sy * stride..(sy + 1) * stride];
            for rx in 0..rw {
                let acc = &mut reduced[(ry * rw + rx) * 4..(ry * rw + rx) * 4 + 4];
                for rx_sub in 0..g {
                    let sx = (x + rx as u32 * g + rx_sub).min(fw - 1) as usize;
                    for c in 0..4 {
                        acc[c] += f32::from(row[sx * 4 + c]);
                    }
                }
            }
        }
    }
    let norm = 1.0 / (g * g) as f32;
    reduced.iter_mut().for_each(|v| *v *= norm);
    let n = size as usize;
    let mut out = RgbaImage::new(size, size);
    let buf: &mut [u8] = out.as_mut();
    let coord = |t: usize, extent: u32, len: usize| -> (usize, usize, f32) {
        let c = ((t as f64 + 0.5) / n as f64 * f64::from(extent) / f64::from(g) - 0.5).clamp(0.0, (len - 1) as f64);
        let i0 = c.floor() as usize;
        let i1 = (i0 + 1).min(len - 1);
        (i0, i1, (c - i0 as f64) as f32)
    };
    let xs: Vec<(usize, usize, f32)> = (0..n).map(|t| coord(t, w, rw)).collect();
    for ty in 0..n {
        let (y0, y1, fy) = coord(ty, h, rh);
        for (tx, &(x0, x1, fx)) in xs.iter().enumerate() {
            let p = |xx: usize, yy: usize, c: usize| reduced[(yy * rw + xx) * 4 + c];
            for c in 0..4 {
                let top = p(x0, y0, c) * (1.0 - fx) + p(x1, y0, c) * fx;
                let bottom = p(x0, y1, c) * (1.0 - fx) + p(x1, y1, c) * fx;
                buf[(ty * n + tx) * 4 + c] = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

fn erode(inside: &[bool], n: usize, radius: usize) -> Vec<bool> {
    // Separable square erosion.
    let mut tmp = inside.to_vec();
    for y in 0..n {
        for x in 0..n {
            let lo = x.saturating_sub(radius);
            let hi = (x + radius).min(n - 1);
            tmp[y * n + x] = inside[y * n + lo..=y * n + hi].iter().all(|&b| b);
        }
    }
    let mut out = tmp.clone();
    for y in 0..n {
        let lo = y.saturating_sub(radius);
        let hi = (y + radius).min(n - 1);
        for x in 0..n {
            out[y * n + x] = (lo..=hi).all(|yy| tmp[yy * n + x]);
        }
    }
    if out.iter().any(|&b| b) { out } else { inside.to_vec() }
}

/// Every texel outside takes the colour of the nearest inside texel (breadth-first, 4-connected).
fn bleed(rgba: &mut [u8], inside: &[bool], n: usize) {
    let mut known = inside.to_vec();
    let mut queue: VecDeque<usize> = (0..n * n).filter(|&i| known[i]).collect();
    if queue.is_empty() {
        rgba.chunks_exact_mut(4).for_each(|p| p.copy_from_slice(&[128, 128, 128, 255]));
        return;
    }
    while let Some(i) = queue.pop_front() {
        let (x, y) = (i % n, i / n);
        let neighbours =
            [(x > 0).then(|| i - 1), (x + 1 < n).then(|| i + 1), (y > 0).then(|| i - n), (y + 1 < n).then(|| i + n)];
        for j in neighbours.into_iter().flatten() {
            if !known[j] {
                known[j] = true;
                let (src, dst) = (i * 4, j * 4);
                for c in 0..3 {
                    rgba[dst + c] = rgba[src + c];
                }
                rgba[dst + 3] = 255;
                queue.push_back(j);
            }
        }
    }
}
