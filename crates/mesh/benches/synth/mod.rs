//! A photo-like synthetic picture for benchmarks: a textured, shaded blob with a hole-free wavy outline on a
//! lit, slightly noisy backdrop, encoded as JPEG.

use image::RgbImage;
use image::codecs::jpeg::JpegEncoder;

/// A `width`×`height` photo-like JPEG.
pub fn photo_jpeg(width: u32, height: u32) -> Vec<u8> {
    let (cx, cy) = (f64::from(width) * 0.5, f64::from(height) * 0.55);
    let base = f64::from(width.min(height)) * 0.36;
    let mut state = 0x9e37_79b9u32;
    let image = RgbImage::from_fn(width, height, |x, y| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let noise = f64::from(state >> 28) - 7.5;
        let (dx, dy) = (f64::from(x) - cx, f64::from(y) - cy);
        let angle = dy.atan2(dx);
        let radius = base * (1.0 + 0.18 * (3.0 * angle).sin() + 0.07 * (7.0 * angle + 1.0).cos());
        let r = (dx * dx + dy * dy).sqrt();
        let backdrop = 205.0 + 30.0 * f64::from(y) / f64::from(height) - 12.0 * f64::from(x) / f64::from(width);
        if r < radius {
            let shade = 0.55 + 0.45 * (1.0 - (r / radius).powi(2)).sqrt();
            let stripes = 0.5 + 0.5 * (f64::from(x) / 19.0 + (f64::from(y) / 31.0).sin()).sin();
            let red = (170.0 + 60.0 * stripes) * shade + noise;
            let green = (70.0 + 40.0 * stripes) * shade + noise;
            let blue = (40.0 + 30.0 * (1.0 - stripes)) * shade + noise;
            image::Rgb([red as u8, green as u8, blue as u8])
        } else {
            let v = (backdrop + noise).clamp(0.0, 255.0) as u8;
            image::Rgb([v, v, v.saturating_sub(6)])
        }
    });
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90).encode_image(&image).expect("encoding a synthetic JPEG");
    out
}
