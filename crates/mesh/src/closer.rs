//! Looking closer: the network sees any picture at 320×320, so an object that fills a tenth of the frame is
//! segmented from a few dozen of its pixels, and its thin parts (a stalk, an antenna, the upper half of a tall thin
//! instrument) fall under the network's resolution. A second pass runs the network on a crop around what the first
//! pass found, at the network's full input size, and refines that map against the crop's own pixels; the two maps
//! are then merged over the crop.
//!
//! The merge is a weighted mean that favours the closer look ([`CLOSER_WEIGHT`]): a part only the closer look sees
//! (a thin part) stays, a part only the wide look sees (background the first pass mistook for object, such as the
//! boats behind a thin object) goes, and a part both see stays. The mean, not the closer map alone, because a crop
//! can make a background detail look like an object of its own (a leaf beside a butterfly): the wide look's doubt
//! then keeps it near the threshold, where the confidence measure sees it.

use image::RgbaImage;
use image::imageops;

use crate::GenerateError;
use crate::refine::refine_saliency;
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
    let mut values = wide;
    for (row, close_row) in close.chunks_exact(crop.width).enumerate() {
        let start = (crop.y + row) * w + crop.x;
        for (slot, &c) in values[start..start + crop.width].iter_mut().zip(close_row) {
            *slot = (1.0 - CLOSER_WEIGHT) * *slot + CLOSER_WEIGHT * c;
        }
    }
    Ok(Merged { values, crop: Some(crop) })
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
}
