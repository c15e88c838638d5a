//! Learned salient-object segmentation: the vendored U²-Net-p network (`assets/u2netp.onnx`, Apache-2.0, see
//! `assets/README.md`) run on the CPU by `rten`, giving a saliency map over the working image.
//!
//! Why `rten`: measured on the 2-core machine this project targets, on this model at 1×3×320×320, `rten` 0.27 ran
//! an inference in 457 ms on two threads (795 ms on one), built in 46 s and added 6.5 MB to a binary, and its output
//! matched onnxruntime's within 7.5e-5; `tract-onnx` 0.23 took 1,162 ms, 4 min 18 s to build and 30 MB, and older
//! `tract` releases reject the model's `Resize` nodes. `ort` needs a shared onnxruntime library at run time.
//!
//! The network is compiled into the binary and parsed once, on first use; the parsed model is immutable and shared
//! by every caller. Its inference is deterministic: the same input gives bit-identical saliency whatever the number
//! of threads (rten splits work into fixed blocks, each summed in a fixed order).

use std::sync::OnceLock;

use image::RgbaImage;
use image::imageops::{self, FilterType};
use rten::Model;
use rten_tensor::NdTensor;
use rten_tensor::prelude::*;

use crate::GenerateError;
use crate::refine::bilinear;

/// The vendored network file.
pub(crate) const NETWORK: &[u8] = include_bytes!("../assets/u2netp.onnx");

/// The side of the network's square input.
const SIDE: usize = 320;
/// ImageNet channel means and standard deviations, as the network was trained.
const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The saliency of each working pixel in 0..=1, with the network's raw (un-normalised) maximum.
#[derive(Debug, Clone)]
pub(crate) struct Saliency {
    /// Row-major over the working image, min-max normalised to 0..=1.
    pub values: Vec<f32>,
    /// The largest raw sigmoid output: near 1 when the network sees an object, low when it sees none.
    pub raw_max: f32,
}

fn network() -> Result<&'static Model, GenerateError> {
    static MODEL: OnceLock<Result<Model, String>> = OnceLock::new();
    MODEL
        .get_or_init(|| Model::load_static_slice(NETWORK).map_err(|err| err.to_string()))
        .as_ref()
        .map_err(|reason| GenerateError::SegmentationFailed { reason: format!("the network did not load: {reason}") })
}

/// Runs the network on `work` and upsamples its saliency map to the working resolution (bilinear).
pub(crate) fn predict(work: &RgbaImage) -> Result<Saliency, GenerateError> {
    let model = network()?;
    let (w, h) = (work.width() as usize, work.height() as usize);
    let rgb = image::DynamicImage::ImageRgba8(work.clone()).into_rgb8();
    let small = imageops::resize(&rgb, SIDE as u32, SIDE as u32, FilterType::Triangle);
    let max = f32::from(small.as_raw().iter().copied().max().unwrap_or(0).max(1));
    let mut data = vec![0f32; 3 * SIDE * SIDE];
    for (i, pixel) in small.pixels().enumerate() {
        for c in 0..3 {
            data[c * SIDE * SIDE + i] = (f32::from(pixel.0[c]) / max - MEAN[c]) / STD[c];
        }
    }
    let input = NdTensor::from_data([1, 3, SIDE, SIDE], data);
    let output = model
        .run_one(input.view().into(), None)
        .map_err(|err| GenerateError::SegmentationFailed { reason: err.to_string() })?;
    let output: NdTensor<f32, 4> =
        output.try_into().map_err(|_| GenerateError::SegmentationFailed { reason: "unexpected output type".into() })?;
    if output.shape() != [1, 1, SIDE, SIDE] {
        return Err(GenerateError::SegmentationFailed {
            reason: format!("unexpected output shape {:?}", output.shape()),
        });
    }
    let map: Vec<f32> = output.iter().copied().collect();
    let (lo, hi) = map.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let range = (hi - lo).max(1e-6);
    let normalised: Vec<f64> = map.iter().map(|&v| f64::from((v - lo) / range)).collect();
    let (sx, sy) = (SIDE as f64 / w as f64, SIDE as f64 / h as f64);
    let mut values = Vec::with_capacity(w * h);
    for y in 0..h {
        let gy = (y as f64 + 0.5) * sy - 0.5;
        for x in 0..w {
            values.push(bilinear(&normalised, SIDE, SIDE, (x as f64 + 0.5) * sx - 0.5, gy) as f32);
        }
    }
    Ok(Saliency { values, raw_max: hi })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendored_network_is_the_pinned_file() {
        use sha2::{Digest, Sha256};
        assert_eq!(NETWORK.len(), 4_574_861);
        let digest: String = Sha256::digest(NETWORK).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(digest, "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8");
    }

    #[test]
    fn a_dark_disc_on_light_grey_is_salient() {
        let work = RgbaImage::from_fn(240, 180, |x, y| {
            let (dx, dy) = (x as f32 - 120.0, y as f32 - 90.0);
            if dx * dx + dy * dy < 50.0 * 50.0 {
                image::Rgba([180, 30, 20, 255])
            } else {
                image::Rgba([220, 220, 215, 255])
            }
        });
        let saliency = predict(&work).expect("predict");
        assert_eq!(saliency.values.len(), 240 * 180);
        assert!(saliency.raw_max > 0.5, "{}", saliency.raw_max);
        assert!(saliency.values[90 * 240 + 120] > 0.8);
        assert!(saliency.values[5 * 240 + 5] < 0.2);
    }
}
