//! Looking closer: the network sees any picture at 320×320, so an object that fills a tenth of the frame is
//! segmented from a few dozen of its pixels, and its thin parts (a stalk, an antenna, the upper half of a tall thin
//! instrument) fall under the network's resolution. A second pass runs the network on a crop around what the first
//! pass found, at the network's full input size, and refines that map against the crop's own pixels; the two maps
//! are then merged over the crop.
//!
//! The merge is a weighted mean that favours the closer look ([`CLOSER_WEIGHT`]): a part only the closer look sees
//! (a thin part) stays, a part only the wide look sees (background the first pass mistook for object, such as the
//! boats behind a thin object) goes, and a part both see stays. The mean, not the closer map alone, because a crop
//! can make a background detail look like an object of its own.
//!
//! One more check keeps the closer look from adding a second object: the merged mask is split into its thick
//! regions (where it is at least a few of the wide look's pixels deep, so thin bridges and thin parts fall away),
//! and a region deep enough for the wide look to resolve that it mostly calls background is taken out (see
//! [`drop_unconfirmed`]): what only the crop's framing made salient (a leaf beside a butterfly) goes. Thin parts,
//! and slim regions that continue a confirmed one (the upper half of a thin instrument, which the wide look sees
//! only as a faint streak), stay as the closer look has them.

use image::RgbaImage;
use image::imageops;

use crate::GenerateError;
use crate::mask::label_components;
use crate::refine::{box_sum, refine_saliency};
use crate::saliency;

/// The first pass's normalised saliency from which a pixel counts as found, for placing the crop: low, so that
/// faint parts of the object (seen at a third of the peak) are inside it.
const FOUND: f32 = 0.25;
/// The weight of the closer look in the merged map.
const CLOSER_WEIGHT: f32 = 0.65;
/// The crop's margin around what was found, as a fraction of its size, and at least this many pixels.
const MARGIN_FRACTION: usize = 6;
const MARGIN_PIXELS: usize = 8;
/// The crop is used only when it gains resolution: its longer side at most this fraction of the picture's.
const MAX_CROP_FRACTION: f64 = 0.8;
/// The network's input side: one pixel of its map covers `max(w, h) / NETWORK_SIDE` pixels of the working image.
const NETWORK_SIDE: usize = 320;
/// How deep inside the merged mask (in the wide look's pixels) a pixel must lie to belong to a thick region.
const THICK_NETWORK_PIXELS: usize = 3;
/// How deep (in the wide look's pixels) a thick region must reach somewhere for the wide look to be sure to
/// resolve it: a part about twice that across. A shallower region (a thin instrument's upper half, which the wide
/// look sees only as a faint streak) is kept as the closer look has it.
const RESOLVED_NETWORK_PIXELS: usize = 6;
/// The least share of a thick region's pixels that the wide look must find (map ≥ ½) for the region to stay as the
/// closer look has it.
const MIN_WIDE_SUPPORT: f64 = 0.5;

/// A rectangle of the working image, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Crop {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

/// The learned map after both looks.
#[derive(Debug, Clone)]
pub(crate) struct Merged {
    /// Row-major over the working image, 0..=1; ½ is the object's edge.
    pub values: Vec<f32>,
    /// Where the second look was taken, if it was.
    pub crop: Option<Crop>,
}

/// The box around every pixel the first pass found, grown by a margin and towards a square (a square crop keeps
/// the network's resolution the same along both axes), clipped to the picture. `None` when nothing was found.
pub(crate) fn crop_around(first: &[f32], w: usize, h: usize) -> Option<Crop> {
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0usize, 0usize);
    for (i, _) in first.iter().enumerate().filter(|(_, v)| **v >= FOUND) {
        let (x, y) = (i % w, i / w);
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x + 1);
        y1 = y1.max(y + 1);
    }
    // An object cut by the frame is large in it already, and a crop could not centre it.
    if x1 == 0 || x0 == 0 || y0 == 0 || x1 == w || y1 == h {
        return None;
    }
    let (bw, bh) = (x1 - x0, y1 - y0);
    let side = bw.max(bh);
    let mx = (bw / MARGIN_FRACTION + MARGIN_PIXELS).max((side - bw) / 4);
    let my = (bh / MARGIN_FRACTION + MARGIN_PIXELS).max((side - bh) / 4);
    let (x0, y0) = (x0.saturating_sub(mx), y0.saturating_sub(my));
    let (x1, y1) = ((x1 + mx).min(w), (y1 + my).min(h));
    Some(Crop { x: x0, y: y0, width: x1 - x0, height: y1 - y0 })
}

/// The first pass's refined map `wide` (over the whole picture, from the raw map `first`), merged with a closer
/// look when the object's crop is small enough to gain resolution.
pub(crate) fn look_closer(work: &RgbaImage, first: &[f32], wide: Vec<f32>) -> Result<Merged, GenerateError> {
    let (w, h) = (work.width() as usize, work.height() as usize);
    let Some(crop) = crop_around(first, w, h) else {
        return Ok(Merged { values: wide, crop: None });
    };
    if crop.width.max(crop.height) as f64 > MAX_CROP_FRACTION * w.max(h) as f64 {
        return Ok(Merged { values: wide, crop: None });
    }
    let part = imageops::crop_imm(work, crop.x as u32, crop.y as u32, crop.width as u32, crop.height as u32).to_image();
    let second = saliency::predict(&part)?;
    let close = refine_saliency(&part, &second.values);
    let mut values = wide.clone();
    for (row, close_row) in close.chunks_exact(crop.width).enumerate() {
        let start = (crop.y + row) * w + crop.x;
        for (slot, &c) in values[start..start + crop.width].iter_mut().zip(close_row) {
            *slot = (1.0 - CLOSER_WEIGHT) * *slot + CLOSER_WEIGHT * c;
        }
    }
    drop_unconfirmed(&mut values, &wide, w, h);
    Ok(Merged { values, crop: Some(crop) })
}

/// Where the merged map `values` claims a thick region that the wide look does not confirm, the region is taken out of
/// the map. A thick region is a connected part of the merged mask's interior (pixels more than [`THICK_NETWORK_PIXELS`]
/// wide-look pixels deep); it is confirmed when at least [`MIN_WIDE_SUPPORT`] of it is object in `wide`, or when it is
/// nowhere [`RESOLVED_NETWORK_PIXELS`] deep (too slim for the wide look to judge) and lies within three times the thick
/// depth of a confirmed region (it continues it, across a neck). A mask pixel is taken out when it lies within the
/// thick depth of an unconfirmed region and of no confirmed one, so the region's rim goes with it and the edges of
/// confirmed parts, and thin parts away from any thick region, stay. What the wide look saw inside an unconfirmed
/// region goes too: less than half of a region it could resolve is not an object it found. When the wide look confirms
/// no region at all, nothing is taken out: the rule keeps the closer look from adding a second object, and without a
/// first one to compare with it would remove the object the closer look found (one the wide look barely saw), so the
/// map is left as merged.
fn drop_unconfirmed(values: &mut [f32], wide: &[f32], w: usize, h: usize) {
    let network_pixels = |n: usize| (n * w.max(h)).div_ceil(NETWORK_SIDE);
    let (r, resolved) = (network_pixels(THICK_NETWORK_PIXELS), network_pixels(RESOLVED_NETWORK_PIXELS));
    let object: Vec<bool> = values.iter().map(|&v| v >= 0.5).collect();
    let depth = depth_in(&object, w, h);
    let interior: Vec<u8> = depth.iter().map(|&d| u8::from(usize::from(d) > r)).collect();
    let (labels, sizes) = label_components(&interior, w, h, 1);
    // Per thick region (label − 1): how deep it reaches, how much of it the wide look finds, whether it touches a
    // pixel within reach of a confirmed region.
    let (mut deepest, mut supported) = (vec![0usize; sizes.len()], vec![0usize; sizes.len()]);
    for ((&label, &d), &v) in labels.iter().zip(&depth).zip(wide) {
        if let Some(region) = (label as usize).checked_sub(1) {
            deepest[region] = deepest[region].max(usize::from(d));
            supported[region] += usize::from(v >= 0.5);
        }
    }
    let believed: Vec<bool> =
        supported.iter().zip(&sizes).map(|(&s, &n)| s as f64 >= MIN_WIDE_SUPPORT * n as f64).collect();
    if !believed.contains(&true) {
        return;
    }
    let in_regions = |keep: &dyn Fn(usize) -> bool| -> Vec<bool> {
        labels.iter().map(|&label| (label as usize).checked_sub(1).is_some_and(keep)).collect()
    };
    // A slim region the wide look could not judge stays when it continues a confirmed one, and goes when it stands
    // apart. Across a neck of the mask shallower than the thick depth, two regions' pixels are at least twice that
    // depth apart (each lies more than it from the neck's edge): within three times it, they continue each other.
    let joined = window_counts(&in_regions(&|region| believed[region]), w, h, 3 * r);
    let mut continues = vec![false; sizes.len()];
    for (&label, &near) in labels.iter().zip(&joined) {
        if let Some(region) = (label as usize).checked_sub(1) {
            continues[region] |= near > 0;
        }
    }
    let kept = |region: usize| believed[region] || (deepest[region] < resolved && continues[region]);
    let confirmed = in_regions(&kept);
    let unconfirmed = in_regions(&|region| !kept(region));
    if !unconfirmed.contains(&true) {
        return;
    }
    let near_confirmed = window_counts(&confirmed, w, h, r);
    let near_unconfirmed = window_counts(&unconfirmed, w, h, r);
    for i in 0..w * h {
        if object[i] && near_unconfirmed[i] > 0 && near_confirmed[i] == 0 {
            values[i] = 0.0;
        }
    }
}

/// Each pixel's depth inside `object`: its chessboard distance to the nearest pixel outside it (the picture's
/// border counts as outside), 0 outside, by the two-pass distance transform.
fn depth_in(object: &[bool], w: usize, h: usize) -> Vec<u16> {
    let mut depth: Vec<u16> = object.iter().map(|&o| if o { u16::MAX } else { 0 }).collect();
    let at = |depth: &[u16], x: isize, y: isize| -> u16 {
        if x < 0 || y < 0 || x >= w as isize || y >= h as isize { 0 } else { depth[y as usize * w + x as usize] }
    };
    for y in 0..h as isize {
        for x in 0..w as isize {
            let i = y as usize * w + x as usize;
            if depth[i] > 0 {
                let before = [(-1, -1), (0, -1), (1, -1), (-1, 0)].map(|(dx, dy)| at(&depth, x + dx, y + dy));
                depth[i] = depth[i].min(before.into_iter().min().unwrap_or(0).saturating_add(1));
            }
        }
    }
    for y in (0..h as isize).rev() {
        for x in (0..w as isize).rev() {
            let i = y as usize * w + x as usize;
            if depth[i] > 0 {
                let after = [(1, 1), (0, 1), (-1, 1), (1, 0)].map(|(dx, dy)| at(&depth, x + dx, y + dy));
                depth[i] = depth[i].min(after.into_iter().min().unwrap_or(0).saturating_add(1));
            }
        }
    }
    depth
}

/// How many of the `(2r+1)²` pixels around each pixel are set (the window clipped at the edges).
fn window_counts(bits: &[bool], w: usize, h: usize, r: usize) -> Vec<u32> {
    // Sums of 0/1 values below 2^53 are exact in f64.
    box_sum(|i| f64::from(u8::from(bits[i])), w, h, r).into_iter().map(|count| count as u32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crop_holds_what_was_found_with_a_margin_and_squares_up() {
        let (w, h) = (400usize, 300usize);
        // A tall thin object: 20 px wide, 200 px tall.
        let first: Vec<f32> = (0..w * h)
            .map(|i| if (190..210).contains(&(i % w)) && (50..250).contains(&(i / w)) { 0.9 } else { 0.0 })
            .collect();
        let crop = crop_around(&first, w, h).expect("found");
        assert!(crop.x < 190 && crop.x + crop.width > 210, "{crop:?}");
        assert!(crop.y < 50 && crop.y + crop.height > 250, "{crop:?}");
        // Grown towards a square: far wider than the object, but no wider than tall.
        assert!(crop.width >= 100 && crop.width <= crop.height, "{crop:?}");
        assert!(crop_around(&vec![0.1; w * h], w, h).is_none());
    }

    /// A map over a 320×320 picture (one working pixel per network pixel: thick means more than 3 deep, judged
    /// means 6 deep somewhere): `close` where the merged map says object, `wide` where the wide look does.
    fn maps(w: usize, h: usize, close: &[[usize; 4]], wide: &[[usize; 4]]) -> (Vec<f32>, Vec<f32>) {
        let inside = |rects: &[[usize; 4]], i: usize| {
            let (x, y) = (i % w, i / w);
            rects.iter().any(|&[x0, y0, x1, y1]| (x0..x1).contains(&x) && (y0..y1).contains(&y))
        };
        let merged = (0..w * h).map(|i| if inside(close, i) { 0.9 } else { 0.1 }).collect();
        let wide = (0..w * h).map(|i| if inside(wide, i) { 0.9 } else { 0.3 }).collect();
        (merged, wide)
    }

    fn object(values: &[f32], w: usize, rect: [usize; 4]) -> usize {
        let [x0, y0, x1, y1] = rect;
        (y0..y1).flat_map(|y| (x0..x1).map(move |x| (x, y))).filter(|&(x, y)| values[y * w + x] >= 0.5).count()
    }

    #[test]
    fn a_deep_region_only_the_closer_look_claims_is_taken_out_and_the_confirmed_one_stays() {
        let (w, h) = (320, 320);
        let body = [40, 100, 120, 200];
        // A leaf beside the body, joined to it by a 2-pixel bridge, that the wide look does not find.
        let leaf = [160, 80, 260, 220];
        let bridge = [120, 150, 160, 152];
        let (mut merged, wide) = maps(w, h, &[body, leaf, bridge], &[body]);
        drop_unconfirmed(&mut merged, &wide, w, h);
        assert_eq!(object(&merged, w, body), 80 * 100, "the body stays whole");
        assert_eq!(object(&merged, w, leaf), 0, "the leaf goes");
    }

    #[test]
    fn a_slim_continuation_stays_and_a_slim_region_apart_goes() {
        let (w, h) = (320, 320);
        // A thin instrument: its lower half confirmed, its upper half (9 px wide: too slim to judge) only in the
        // closer look, continuing it through a ring a little narrower than itself; a 9-pixel blob apart from it.
        let lower = [150, 152, 170, 300];
        let ring = [152, 150, 157, 152];
        let upper = [150, 20, 159, 150];
        let speck = [40, 40, 49, 49];
        let (mut merged, wide) = maps(w, h, &[lower, ring, upper, speck], &[lower]);
        drop_unconfirmed(&mut merged, &wide, w, h);
        assert_eq!(object(&merged, w, upper), 9 * 130, "the continuation stays");
        assert_eq!(object(&merged, w, lower), 20 * 148);
        assert_eq!(object(&merged, w, speck), 0, "the region apart goes");
    }

    #[test]
    fn with_nothing_the_wide_look_confirms_the_closer_looks_object_is_kept() {
        let (w, h) = (320, 320);
        // A small object the wide look barely saw (nowhere above ½): the closer look's find is all there is.
        let object = [140, 140, 180, 180];
        let (mut merged, wide) = maps(w, h, &[object], &[]);
        let before = merged.clone();
        drop_unconfirmed(&mut merged, &wide, w, h);
        assert_eq!(merged, before);
    }

    #[test]
    fn thin_parts_and_agreed_maps_are_left_alone() {
        let (w, h) = (320, 320);
        // An antenna 3 px wide (never thick) only the closer look sees, on a body both see.
        let body = [100, 100, 200, 200];
        let antenna = [140, 20, 143, 100];
        let (mut merged, wide) = maps(w, h, &[body, antenna], &[body]);
        let before = merged.clone();
        drop_unconfirmed(&mut merged, &wide, w, h);
        assert_eq!(merged, before);
    }
}
