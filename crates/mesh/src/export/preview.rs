//! The preview picture: the model drawn on the CPU from a three-quarter view ([`VIEW_YAW_DEGREES`],
//! [`VIEW_PITCH_DEGREES`]), in orthographic projection, textured and lit by one light from the upper left and an
//! ambient term, on a transparent background, as a square RGBA PNG.
//!
//! Written here rather than taken from a crate: the software renderers in the registries are either whole engines
//! or 2-D vector rasterisers, and this needs forty lines of triangle filling with a depth buffer. Each triangle is
//! filled at two-by-two samples per pixel (edge functions at the sample centres, nearest depth wins), and the
//! samples are averaged into the pixel, alpha included, so edges are smooth.

use image::RgbImage;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};

use crate::build::Mesh3;

/// The view turns the model this many degrees about its vertical axis (its right side comes into view).
pub const VIEW_YAW_DEGREES: f32 = -30.0;
/// The view looks down on the model from this many degrees above the horizon.
pub const VIEW_PITCH_DEGREES: f32 = 20.0;
/// The share of the picture's side the model's larger extent in the view fills (centred).
pub const FILL: f32 = 0.9;
/// Samples per pixel along each axis.
const SUPERSAMPLE: usize = 2;
/// The light's direction in view space (towards the light: upper left, in front) and the ambient share.
const LIGHT: [f32; 3] = [-0.45, 0.6, 0.66];
const AMBIENT: f32 = 0.4;

/// A point of the model in the view: x to the right, y up, z towards the viewer.
fn to_view(p: [f32; 3]) -> [f32; 3] {
    let (sy, cy) = VIEW_YAW_DEGREES.to_radians().sin_cos();
    let (sp, cp) = VIEW_PITCH_DEGREES.to_radians().sin_cos();
    // About the vertical axis, then tilted about the horizontal one so that the top comes towards the viewer.
    let (x, z) = (cy * p[0] + sy * p[2], -sy * p[0] + cy * p[2]);
    let (y, z) = (cp * p[1] - sp * z, sp * p[1] + cp * z);
    [x, y, z]
}

/// The picture's frame: the model's view-space extent scaled to [`FILL`] of `size` pixels, centred. Returns the
/// map from view x, y to picture x, y (y down).
fn frame(points: &[[f32; 3]], size: u32) -> impl Fn([f32; 3]) -> [f32; 2] + use<> {
    let (lo, hi) = super::min_max(points);
    let extent = (hi[0] - lo[0]).max(hi[1] - lo[1]).max(f32::MIN_POSITIVE);
    let scale = FILL * size as f32 / extent;
    let centre = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    let half = size as f32 / 2.0;
    move |p| [half + (p[0] - centre[0]) * scale, half - (p[1] - centre[1]) * scale]
}

/// Renders the model to a `size`×`size` RGBA PNG.
pub fn render(mesh: &Mesh3, texture: &RgbImage, size: u32) -> Result<Vec<u8>, String> {
    let n = size as usize * SUPERSAMPLE;
    let view: Vec<[f32; 3]> = mesh.positions.iter().map(|p| to_view(*p)).collect();
    let normals: Vec<[f32; 3]> = mesh.normals.iter().map(|p| to_view(*p)).collect();
    let place = frame(&view, size);
    let screen: Vec<[f32; 2]> = view.iter().map(|p| place(*p).map(|v| v * SUPERSAMPLE as f32)).collect();
    let light = normalise(LIGHT);
    // First the nearest triangle at every sample (its index and two of its weights), then one shading per sample.
    let mut depth = vec![f32::NEG_INFINITY; n * n];
    let mut nearest = vec![(u32::MAX, 0f32, 0f32); n * n];
    for (k, t) in mesh.tris.iter().enumerate() {
        let [a, b, c] = t.map(|i| i as usize);
        let (pa, pb, pc) = (screen[a], screen[b], screen[c]);
        // Picture y points down, so a triangle facing the viewer winds clockwise here: its area is negative.
        let area = edge(pa, pb, pc);
        if area >= 0.0 {
            continue;
        }
        let x0 = pa[0].min(pb[0]).min(pc[0]).floor().max(0.0) as usize;
        let y0 = pa[1].min(pb[1]).min(pc[1]).floor().max(0.0) as usize;
        let x1 = (pa[0].max(pb[0]).max(pc[0]).ceil().max(0.0) as usize).min(n);
        let y1 = (pa[1].max(pb[1]).max(pc[1]).ceil().max(0.0) as usize).min(n);
        for y in y0..y1 {
            for x in x0..x1 {
                let q = [x as f32 + 0.5, y as f32 + 0.5];
                let (wa, wb, wc) = (edge(pb, pc, q) / area, edge(pc, pa, q) / area, edge(pa, pb, q) / area);
                if wa < 0.0 || wb < 0.0 || wc < 0.0 {
                    continue;
                }
                let z = wa * view[a][2] + wb * view[b][2] + wc * view[c][2];
                let at = y * n + x;
                if z > depth[at] {
                    depth[at] = z;
                    nearest[at] = (k as u32, wa, wb);
                }
            }
        }
    }
    drop(depth);
    // The colour of a sample: its triangle's texture and normal at the sample, lit; `None` where nothing is drawn.
    let shade = |&(k, wa, wb): &(u32, f32, f32)| -> Option<[u8; 3]> {
        let t = mesh.tris.get(k as usize)?;
        let [a, b, c] = t.map(|i| i as usize);
        let wc = 1.0 - wa - wb;
        let uv = [0, 1].map(|d| wa * mesh.uvs[a][d] + wb * mesh.uvs[b][d] + wc * mesh.uvs[c][d]);
        let normal = normalise([0, 1, 2].map(|d| wa * normals[a][d] + wb * normals[b][d] + wc * normals[c][d]));
        let lit = AMBIENT + (1.0 - AMBIENT) * (0..3).map(|d| normal[d] * light[d]).sum::<f32>().max(0.0);
        // The nearest texel: each pixel averages four samples, which smooths as much as a bilinear lookup would.
        let (w, h) = texture.dimensions();
        let tx = ((uv[0] * w as f32) as u32).min(w - 1);
        let ty = ((uv[1] * h as f32) as u32).min(h - 1);
        // `as u8` saturates.
        Some(texture.get_pixel(tx, ty).0.map(|v| (f32::from(v) * lit + 0.5) as u8))
    };
    let side = size as usize;
    let mut pixels = Vec::with_capacity(side * side * 4);
    let samples = (SUPERSAMPLE * SUPERSAMPLE) as u32;
    for y in 0..side {
        for x in 0..side {
            let (mut sum, mut covered) = ([0u32; 3], 0u32);
            for sy in 0..SUPERSAMPLE {
                for sx in 0..SUPERSAMPLE {
                    if let Some(colour) = shade(&nearest[(y * SUPERSAMPLE + sy) * n + x * SUPERSAMPLE + sx]) {
                        covered += 1;
                        for d in 0..3 {
                            sum[d] += u32::from(colour[d]);
                        }
                    }
                }
            }
            // Colour averaged over the covered samples (not darkened by the background), coverage as alpha.
            let rgb = sum.map(|v| (v + covered / 2).checked_div(covered).unwrap_or(0) as u8);
            pixels.extend_from_slice(&rgb);
            pixels.push(((covered * 255 + samples / 2) / samples) as u8);
        }
    }
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(&pixels, size, size, ExtendedColorType::Rgba8)
        .map_err(|err| format!("the preview could not be encoded: {err}"))?;
    Ok(png)
}

/// Twice the signed area of the triangle (a, b, c).
fn edge(a: [f32; 2], b: [f32; 2], c: [f32; 2]) -> f32 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

fn normalise(v: [f32; 3]) -> [f32; 3] {
    let length = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    if length > 0.0 { v.map(|c| c / length) } else { [0.0, 0.0, 1.0] }
}
