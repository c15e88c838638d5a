//! Segmentation: which evidence makes a picture's mask, decided per picture, and the refusal of pictures that
//! truly show nothing.
//!
//! 1. Real alpha (`min α < 250` and more than 1 % of the pixels below 128): the alpha channel, exactly.
//! 2. A plain, evenly lit background (the border colour model's clusters lie close together and fit the whole
//!    border): the colour model, which is exact there and keeps what the network misses on white (thin arms, flat
//!    renders). Pixels it keeps that are only a darker shade of the background (shadows) stay only where the
//!    network finds them salient.
//! 3. Anything else (clutter, shading, texture, an object touching the frame): the network's saliency, refined at
//!    the working resolution by a colour-guided filter against the photo, with a closer second look at a small
//!    object (`closer.rs`), thresholded at ½. Holes stay open only where the background around the object shows
//!    through them. When the network sees nothing salient, the colour model is the fallback.
//!
//! An estimated mask (colour or learned) is refused (`object_unclear`) rather than made into a wrong model when it
//! is doubtful: the network unsure or its map unstable (see [`confidence`]), or the mask's outline not on the
//! photo's edges (see [`outline_support`]).
//!
//! Every significant part is kept (letters of a logo, several objects), specks are dropped. Only a picture with no
//! object at all (blank, one colour, noise) is refused.

use image::RgbaImage;

use crate::closer;
use crate::mask::{self, Mask};
use crate::refine::refine_saliency;
use crate::saliency;
use crate::{GenerateError, MaskSource};

/// The least fraction of the picture a mask must cover to be an object.
const MIN_FOREGROUND: f32 = 0.001;
/// The network's raw maximum below which it saw nothing salient.
const MIN_SALIENCY: f32 = 0.3;
/// Holes smaller than this fraction of the largest part are filled: alpha is exact, the other sources are not.
const MIN_HOLE_ALPHA: f64 = 0.001;
const MIN_HOLE_ESTIMATED: f64 = 0.02;

/// Cheap evidence that a picture shows no object at all: one colour (the brightest channel's spread under two
/// levels) or noise (neighbouring pixels differ as much as random pixels do). Returns the reason.
pub(crate) fn nothing_to_see(work: &RgbaImage) -> Option<&'static str> {
    // Two passes over the pixels in integers and no allocation: this runs on every unpaid request up to the
    // preflight's size. Luma is kept ×1000 (Rec. 601 weights 299, 587, 114), exact in integers. The first pass
    // sums blocks of 4,096 pixels in 32 bits (255² · 4,096 and 255,000 · 4,096 fit), which the compiler turns into
    // vector code.
    let (w, h) = (work.width() as usize, work.height() as usize);
    let raw = work.as_raw();
    let luma = |p: &[u8]| 299 * u32::from(p[0]) + 587 * u32::from(p[1]) + 114 * u32::from(p[2]);
    let (mut sum, mut sum_sq) = ([0u64; 3], [0u64; 3]);
    let (mut min_alpha, mut n_transparent, mut luma_sum) = (255u8, 0usize, 0u64);
    for block in raw.chunks(4 * 4096) {
        let (mut s, mut q, mut l, mut t, mut m) = ([0u32; 3], [0u32; 3], 0u32, 0u32, 255u8);
        for p in block.chunks_exact(4) {
            let (r, g, b) = (u32::from(p[0]), u32::from(p[1]), u32::from(p[2]));
            s[0] += r;
            s[1] += g;
            s[2] += b;
            q[0] += r * r;
            q[1] += g * g;
            q[2] += b * b;
            l += 299 * r + 587 * g + 114 * b;
            m = m.min(p[3]);
            t += u32::from(p[3] < 128);
        }
        for c in 0..3 {
            sum[c] += u64::from(s[c]);
            sum_sq[c] += u64::from(q[c]);
        }
        luma_sum += u64::from(l);
        min_alpha = min_alpha.min(m);
        n_transparent += t as usize;
    }
    let count = raw.len() / 4;
    if n_transparent == count {
        return Some("The picture is fully transparent");
    }
    let n = count.max(1) as f64;
    let spread = (0..3)
        .map(|c| {
            let mean = sum[c] as f64 / n;
            (sum_sq[c] as f64 / n - mean * mean).max(0.0).sqrt()
        })
        .fold(0.0f64, f64::max);
    // Real alpha makes a picture of one colour an object.
    let alpha_used = mask::is_real_alpha(min_alpha, n_transparent, count);
    if spread < 2.0 && !alpha_used {
        return Some("The picture is blank or a single colour");
    }
    if alpha_used {
        return None;
    }
    // Noise: for independent pixels the mean neighbour difference is about 1.4 times the mean deviation from the
    // mean; photos, renders and drawings stay far below 1. The mean is rounded to a thousandth of a level.
    let mean = ((luma_sum + count.max(1) as u64 / 2) / count.max(1) as u64) as u32;
    let (mut deviation, mut neighbour) = (0u64, 0u64);
    for row in raw.chunks_exact(4 * w.max(1)).take(h) {
        let mut previous = luma(&row[..4]);
        deviation += u64::from(previous.abs_diff(mean));
        for p in row[4..].chunks_exact(4) {
            let value = luma(p);
            deviation += u64::from(value.abs_diff(mean));
            neighbour += u64::from(value.abs_diff(previous));
            previous = value;
        }
    }
    let deviation = deviation as f64 / 1000.0 / n;
    let neighbour = neighbour as f64 / 1000.0 / (h * w.saturating_sub(1)).max(1) as f64;
    (deviation > 1.0 && neighbour > deviation).then_some("The picture looks like noise")
}

/// Builds the mask of the working image by the rules in this module's documentation.
pub(crate) fn segment(work: &RgbaImage) -> Result<Mask, GenerateError> {
    let (width, height) = work.dimensions();
    let (w, h) = (width as usize, height as usize);
    if w * h == 0 {
        return Err(GenerateError::ImageEmpty);
    }
    if let Some(reason) = nothing_to_see(work) {
        return Err(GenerateError::no_object(reason));
    }
    if let Some(alpha) = mask::alpha_mask(work) {
        return finish(alpha, width, height, MaskSource::Alpha, MIN_HOLE_ALPHA)
            .ok_or_else(|| GenerateError::no_object("The opaque part of the picture is too small to model"));
    }
    let mut found = estimate(work)?;
    found.confidence = found.confidence.min(outline_support(work, &found.data));
    if found.confidence < MIN_CONFIDENCE {
        return Err(GenerateError::ObjectUnclear { confidence: found.confidence, needed: MIN_CONFIDENCE });
    }
    Ok(found)
}

/// The mask of a picture without real alpha: the colour model on a plain background, else the network with its
/// closer look, else the colour model. Its confidence is the learned map's where the network made it.
fn estimate(work: &RgbaImage) -> Result<Mask, GenerateError> {
    let (width, height) = work.dimensions();
    let (w, h) = (width as usize, height as usize);
    let colour = mask::colour_mask(work);
    let colour_mask = || finish(mask::open(&colour.data, w, h), width, height, MaskSource::Colour, MIN_HOLE_ESTIMATED);
    if colour.plain_background
        && let Some(found) = plain_background(work, &colour)?
    {
        return Ok(found);
    }
    let saliency = saliency::predict(work)?;
    if saliency.raw_max >= MIN_SALIENCY {
        let wide = refine_saliency(work, &saliency.values);
        let merged = closer::look_closer(work, &saliency.values, wide)?;
        let mut data: Vec<u8> = merged.values.iter().map(|&v| u8::from(v >= 0.5)).collect();
        mask::fill_foreign_holes(&mut data, &colour.lab, w, h);
        if let Some(mut found) = finish(data, width, height, MaskSource::Learned, MIN_HOLE_ESTIMATED) {
            found.confidence = confidence(saliency.raw_max, &merged.values);
            found.looked_closer = merged.crop.is_some();
            return Ok(found);
        }
    }
    colour_mask().ok_or_else(|| GenerateError::no_object("No object stood out from the background"))
}

/// The least colour step (levels per pixel, the largest over the three channels) that counts as an edge of the
/// photo: above the sensor and JPEG noise of a plain backdrop (±3 levels).
const EDGE_STEP: f32 = 4.0;
/// How far (in pixels) from an outline pixel an edge of the photo may lie and still support it.
const EDGE_REACH: usize = 2;
/// The share of the outline on the photo's edges at or below which the outline is not believed at all, and at or
/// above which it is fully.
const UNSUPPORTED_OUTLINE: f32 = 0.6;
const SUPPORTED_OUTLINE: f32 = 0.95;

/// How far the mask's outline follows edges of the photo, as a confidence in 0..=1: the share of outline pixels
/// (away from the picture's border) with a colour step of at least [`EDGE_STEP`] within [`EDGE_REACH`] pixels,
/// mapped from [`UNSUPPORTED_OUTLINE`]..[`SUPPORTED_OUTLINE`] to 0..1. A true outline lies on the object's edge
/// nearly everywhere (faint on a pale object, but there); an outline that cuts through a flat region (white
/// porcelain clipped to the white of its backdrop, where nothing tells object from background) is a guess.
fn outline_support(work: &RgbaImage, data: &[u8]) -> f32 {
    let (w, h) = (work.width() as usize, work.height() as usize);
    let margin = EDGE_REACH + 1;
    if w <= 2 * margin || h <= 2 * margin {
        return 1.0;
    }
    let raw = work.as_raw();
    let channel = |i: usize, c: usize| f32::from(raw[i * 4 + c]);
    // Central differences, on the rows the outline test reads.
    let mut edge = vec![false; w * h];
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let i = y * w + x;
            edge[i] = (0..3).any(|c| {
                let gx = (channel(i + 1, c) - channel(i - 1, c)) / 2.0;
                let gy = (channel(i + w, c) - channel(i - w, c)) / 2.0;
                gx * gx + gy * gy >= EDGE_STEP * EDGE_STEP
            });
        }
    }
    let (mut outline, mut supported) = (0usize, 0usize);
    for y in margin..h - margin {
        for x in margin..w - margin {
            let i = y * w + x;
            if data[i] == 1 && (data[i - 1] == 0 || data[i + 1] == 0 || data[i - w] == 0 || data[i + w] == 0) {
                outline += 1;
                let near = (y - EDGE_REACH..=y + EDGE_REACH)
                    .any(|yy| edge[yy * w + x - EDGE_REACH..=yy * w + x + EDGE_REACH].iter().any(|&e| e));
                supported += usize::from(near);
            }
        }
    }
    if outline == 0 {
        return 1.0;
    }
    let share = supported as f32 / outline as f32;
    ((share - UNSUPPORTED_OUTLINE) / (SUPPORTED_OUTLINE - UNSUPPORTED_OUTLINE)).clamp(0.0, 1.0)
}

/// The least confidence at which an estimated mask is made into a model: below it the generation is refused rather
/// than a wrong object delivered.
pub(crate) const MIN_CONFIDENCE: f32 = 0.5;
/// The network's raw peak at and above which it is sure it sees an object, and the peak at which it is not at all.
const SURE_PEAK: f32 = 0.9;
const UNSURE_PEAK: f32 = 0.5;
/// The map's stability (its area above 0.7 over its area above 0.3) at and above which the mask is stable.
const STABLE: f32 = 0.4;

/// How sure the learned mask is, in 0..=1: the lesser of the network's certainty that it sees an object (its raw
/// peak, from [`UNSURE_PEAK`] to [`SURE_PEAK`]) and the stability of the merged map (the share of what it finds
/// at a low threshold that it still finds at a high one, up to [`STABLE`]). A photo where the network sees an
/// object clearly gives 1 even when the object is thin (its soft edges cost stability, but not down to
/// [`STABLE`]); one where nothing stands out (an object camouflaged in its background) gives a faint, diffuse map
/// and a low figure.
fn confidence(raw_peak: f32, merged: &[f32]) -> f32 {
    let certainty = ((raw_peak - UNSURE_PEAK) / (SURE_PEAK - UNSURE_PEAK)).clamp(0.0, 1.0);
    let above = |t: f32| merged.iter().filter(|&&v| v >= t).count() as f32;
    let stability = (above(0.7) / above(0.3).max(1.0) / STABLE).clamp(0.0, 1.0);
    certainty.min(stability)
}

/// The least mean CIELAB distance from the background of pixels the network adds to the colour model's mask: an
/// object part of nearly the background's colour (cream wood on off-white) that the colour model let the
/// background flood into. Below it, what the network adds is background (the gaps of a logo).
const MIN_ADDED_DISTANCE: f32 = 4.0;

/// How many times what the colour model kept the network must find for the colour model to count as having lost a
/// pale object into the background.
const LOST_OBJECT_RATIO: f64 = 2.0;

/// The mask on a plain background: the colour model, checked against the network. Shadows (pixels only a darker
/// shade of the background, in regions wider than anti-aliased edges) stay only where the network finds them
/// salient; parts the network finds that are not of the background's colour, but that the colour model lost, are
/// added. `None` when the result is not an object.
fn plain_background(work: &RgbaImage, colour: &mask::ColourModel) -> Result<Option<Mask>, GenerateError> {
    let (width, height) = work.dimensions();
    let (w, h) = (width as usize, height as usize);
    let saliency = saliency::predict(work)?;
    let refined = refine_saliency(work, &saliency.values);
    let learned: Vec<bool> = refined.iter().map(|&v| v >= 0.5).collect();
    let shadow: Vec<u8> = mask::shadow_like(work, &colour.data).into_iter().map(u8::from).collect();
    let shadow = mask::open(&shadow, w, h);
    // A shadow falls on the background beside the object: shaded pixels the object encloses (a white belly shaded
    // grey) are the object's own surface.
    let cast: Vec<u8> = shadow.iter().zip(&learned).map(|(&s, &l)| u8::from(s == 1 && !l)).collect();
    let cast = mask::touching_outside(&cast, &colour.data, w, h);
    let base: Vec<u8> = colour.data.iter().zip(&cast).map(|(&c, &s)| u8::from(c == 1 && !s)).collect();
    let (mut n_added, mut added_distance) = (0usize, 0.0f64);
    for ((&l, &c), &d) in learned.iter().zip(&colour.data).zip(&colour.distance) {
        if l && c == 0 {
            n_added += 1;
            added_distance += f64::from(d);
        }
    }
    let n_base = base.iter().filter(|&&v| v == 1).count();
    let n_learned = learned.iter().filter(|&&l| l).count();
    // Either the network adds parts of another colour than the background's that the flood fill leaked into, or it
    // finds an object several times what the colour model kept: a pale object whose colours the background's
    // match (white porcelain overexposed on white), which the colour model cannot see at all.
    let adds_object = (n_added * 10 >= n_base
        && added_distance / n_added.max(1) as f64 >= f64::from(MIN_ADDED_DISTANCE))
        || n_learned as f64 >= LOST_OBJECT_RATIO * n_base as f64;
    let data: Vec<u8> =
        if adds_object { base.iter().zip(&learned).map(|(&b, &l)| u8::from(b == 1 || l)).collect() } else { base };
    Ok(finish(mask::open(&data, w, h), width, height, MaskSource::Colour, MIN_HOLE_ESTIMATED))
}

/// The mask `source` alone would give, with no choice made (for measuring the sources against each other).
pub(crate) fn segment_as(work: &RgbaImage, source: MaskSource) -> Result<Mask, GenerateError> {
    let (width, height) = work.dimensions();
    let (w, h) = (width as usize, height as usize);
    let none = || GenerateError::no_object("This source found no object");
    match source {
        MaskSource::Alpha => {
            finish(mask::alpha_mask(work).ok_or_else(none)?, width, height, source, MIN_HOLE_ALPHA).ok_or_else(none)
        }
        MaskSource::Colour => {
            let colour = mask::colour_mask(work);
            finish(mask::open(&colour.data, w, h), width, height, source, MIN_HOLE_ESTIMATED).ok_or_else(none)
        }
        MaskSource::Learned => {
            let saliency = saliency::predict(work)?;
            let data = refine_saliency(work, &saliency.values).iter().map(|&v| u8::from(v >= 0.5)).collect();
            finish(data, width, height, source, MIN_HOLE_ESTIMATED).ok_or_else(none)
        }
        MaskSource::External => Err(GenerateError::InvalidOption("an external generator makes no mask here".into())),
    }
}

/// Keeps the significant parts and checks the mask covers enough of the picture.
fn finish(mut data: Vec<u8>, width: u32, height: u32, source: MaskSource, min_hole: f64) -> Option<Mask> {
    let (w, h) = (width as usize, height as usize);
    let n_parts = mask::keep_parts(&mut data, w, h, min_hole);
    let n_fg = data.iter().filter(|&&v| v == 1).count();
    let foreground_fraction = n_fg as f32 / (w * h) as f32;
    (n_parts > 0 && foreground_fraction >= MIN_FOREGROUND).then_some(Mask {
        width,
        height,
        data,
        foreground_fraction,
        source,
        n_parts,
        confidence: 1.0,
        looked_closer: false,
    })
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
    fn colour_model_finds_a_disc_on_plain_background() {
        let mask = segment(&disc_on([240, 240, 235, 255], [200, 40, 30, 255])).expect("mask");
        assert_eq!(mask.source, MaskSource::Colour);
        let expected = std::f32::consts::PI * 2500.0 / (200.0 * 150.0);
        assert!((mask.foreground_fraction - expected).abs() < 0.01, "{}", mask.foreground_fraction);
    }

    #[test]
    fn alpha_mask_is_exact() {
        let mask = segment(&disc_on([0, 0, 0, 0], [20, 200, 30, 255])).expect("mask");
        assert_eq!(mask.source, MaskSource::Alpha);
        assert_eq!(mask.n_parts, 1);
    }

    #[test]
    fn blank_one_colour_and_noise_are_refused() {
        let err = segment(&disc_on([255, 255, 255, 255], [255, 255, 255, 255])).expect_err("blank");
        assert_eq!(err.code(), "no_object_found");
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let noise = RgbaImage::from_fn(200, 150, |_, _| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let v = (state >> 24) as u8;
            image::Rgba([v, v.wrapping_mul(3), v.wrapping_mul(7), 255])
        });
        let err = segment(&noise).expect_err("noise");
        assert!(err.to_string().contains("noise"), "{err}");
    }

    #[test]
    fn a_crisp_map_is_trusted_and_a_faint_or_diffuse_one_is_not() {
        let crisp: Vec<f32> = (0..1000).map(|i| if i < 300 { 1.0 } else { 0.0 }).collect();
        assert_eq!(confidence(0.999, &crisp), 1.0);
        // The network's peak far below its certainty: nothing stood out.
        assert!(confidence(0.6, &crisp) < MIN_CONFIDENCE);
        // A map mostly in the doubtful band: the mask would change with the threshold.
        let diffuse: Vec<f32> = (0..1000)
            .map(|i| {
                if i < 20 {
                    0.9
                } else if i < 600 {
                    0.45
                } else {
                    0.0
                }
            })
            .collect();
        assert!(confidence(0.999, &diffuse) < MIN_CONFIDENCE);
    }

    #[test]
    fn an_outline_on_the_photos_edges_is_believed_and_one_across_flat_colour_is_not() {
        let picture = disc_on([250, 250, 250, 255], [30, 60, 200, 255]);
        let (w, h) = (200usize, 150usize);
        let disc = |r: f32| -> Vec<u8> {
            (0..w * h)
                .map(|i| {
                    let (dx, dy) = ((i % w) as f32 - 100.0, (i / w) as f32 - 75.0);
                    u8::from(dx * dx + dy * dy < r * r)
                })
                .collect()
        };
        assert_eq!(outline_support(&picture, &disc(50.0)), 1.0, "the disc's own outline");
        // A mask 15 px too large: its outline runs through the flat backdrop.
        assert_eq!(outline_support(&picture, &disc(65.0)), 0.0);
    }

    #[test]
    fn several_shapes_on_white_are_all_kept() {
        let shapes = RgbaImage::from_fn(300, 200, |x, y| {
            let inside = (0..6).any(|k| {
                let (cx, cy) = (40.0 + 45.0 * k as f32, 100.0);
                let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                dx.abs() < 15.0 && dy.abs() < 30.0 - 3.0 * k as f32
            });
            if inside { image::Rgba([10, 10, 10, 255]) } else { image::Rgba([250, 250, 250, 255]) }
        });
        let mask = segment(&shapes).expect("mask");
        assert_eq!(mask.source, MaskSource::Colour);
        assert_eq!(mask.n_parts, 6);
    }
}
