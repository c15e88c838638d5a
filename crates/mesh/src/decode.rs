//! Decoding: limits checked from the header before any pixel buffer is allocated, EXIF orientation, and the
//! reduced working copy the geometry stages run on.

use std::io::Cursor;

use image::{ImageDecoder, ImageFormat, ImageReader, RgbaImage};

use crate::{GenerateError, ImageKind, ImageLimits};

/// The largest working image, in pixels; the geometry stages never see more.
pub(crate) const WORK_PIXELS: u64 = 1_000_000;
/// The smallest accepted side of an input image.
pub(crate) const MIN_SIDE: u32 = 16;

/// A decoded photo: the full-resolution copy (for the texture) and the reduced working copy.
pub(crate) struct Decoded {
    /// Full resolution, orientation applied.
    pub full: RgbaImage,
    /// At most [`WORK_PIXELS`] pixels; work pixel `(x, y)` averages full pixels `[x·f, (x+1)·f)`.
    pub work: RgbaImage,
    /// The integer reduction factor `f` from full to work coordinates.
    pub factor: u32,
}

fn detected_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::WebP => "WebP",
        ImageFormat::Gif => "GIF",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Avif => "AVIF",
        _ => "another image format",
    }
}

fn format_of(kind: ImageKind) -> ImageFormat {
    match kind {
        ImageKind::Png => ImageFormat::Png,
        ImageKind::Jpeg => ImageFormat::Jpeg,
        ImageKind::Webp => ImageFormat::WebP,
    }
}

/// The header alone: the bytes are of the declared kind and their dimensions within `limits`; returns the stored
/// width and height and whether EXIF orientation turns them by a quarter. No pixel buffer is allocated.
pub(crate) fn header(bytes: &[u8], kind: ImageKind, limits: &ImageLimits) -> Result<(u32, u32, bool), GenerateError> {
    if bytes.is_empty() {
        return Err(GenerateError::ImageEmpty);
    }
    let format = format_of(kind);
    match image::guess_format(bytes) {
        Ok(found) if found == format => {}
        Ok(found) => return Err(GenerateError::mismatch(kind, detected_name(found))),
        Err(_) => return Err(GenerateError::ImageDecodeFailed { source: None }),
    }
    let mut probe = ImageReader::with_format(Cursor::new(bytes), format);
    probe.no_limits();
    let mut decoder = probe.into_decoder().map_err(GenerateError::decode)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    use image::metadata::Orientation;
    let turned = matches!(
        decoder.orientation(),
        Ok(Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH)
    );
    Ok((width, height, turned))
}

/// Decodes `bytes` as `kind` within `limits`.
pub(crate) fn decode(bytes: &[u8], kind: ImageKind, limits: &ImageLimits) -> Result<Decoded, GenerateError> {
    let full = decode_full(bytes, kind, limits)?;
    let factor = work_factor(&full);
    let work = if factor == 1 { full.clone() } else { box_reduce(&full, factor) };
    Ok(Decoded { full, work, factor })
}

/// The picture at full resolution, upright, as RGBA (refused under [`MIN_SIDE`]).
pub(crate) fn decode_full(bytes: &[u8], kind: ImageKind, limits: &ImageLimits) -> Result<RgbaImage, GenerateError> {
    let format = format_of(kind);
    // The header alone first: the caller's limits are checked before any decoder allocates pixel buffers.
    let (width, height, _) = header(bytes, kind, limits)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut image_limits = image::Limits::default();
    image_limits.max_image_width = Some(limits.max_dimension);
    image_limits.max_image_height = Some(limits.max_dimension);
    // Eight bytes per pixel covers 16-bit RGBA; a little slack for decoder state.
    image_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8).saturating_add(64 << 20));
    reader.limits(image_limits);
    let mut decoder = reader.into_decoder().map_err(|err| limit_or_decode(err, width, height, limits))?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image =
        image::DynamicImage::from_decoder(decoder).map_err(|err| limit_or_decode(err, width, height, limits))?;
    image.apply_orientation(orientation);
    let full = image.into_rgba8();
    let (width, height) = full.dimensions();
    if width < MIN_SIDE || height < MIN_SIDE {
        return Err(GenerateError::ImageTooSmall { width, height, min: MIN_SIDE });
    }
    Ok(full)
}

/// The integer factor that brings `full` to at most [`WORK_PIXELS`].
pub(crate) fn work_factor(full: &RgbaImage) -> u32 {
    let pixels = u64::from(full.width()) * u64::from(full.height());
    let mut factor = 1u32;
    while pixels / (u64::from(factor) * u64::from(factor)) > WORK_PIXELS {
        factor += 1;
    }
    factor
}

fn check_dimensions(width: u32, height: u32, limits: &ImageLimits) -> Result<(), GenerateError> {
    if width == 0 || height == 0 {
        return Err(GenerateError::ImageEmpty);
    }
    if width > limits.max_dimension
        || height > limits.max_dimension
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(GenerateError::ImageTooLarge {
            width,
            height,
            max_dimension: limits.max_dimension,
            max_pixels: limits.max_pixels,
        });
    }
    Ok(())
}

fn limit_or_decode(err: image::ImageError, width: u32, height: u32, limits: &ImageLimits) -> GenerateError {
    match err {
        image::ImageError::Limits(_) => GenerateError::ImageTooLarge {
            width,
            height,
            max_dimension: limits.max_dimension,
            max_pixels: limits.max_pixels,
        },
        other => GenerateError::decode(other),
    }
}

/// Averages `factor × factor` blocks; a partial last row or column of blocks is dropped.
pub(crate) fn box_reduce(image: &RgbaImage, factor: u32) -> RgbaImage {
    let factor = factor.max(1);
    let (width, height) = image.dimensions();
    let out_w = (width / factor).max(1);
    let out_h = (height / factor).max(1);
    let block_w = factor.min(width);
    let block_h = factor.min(height);
    let n = u64::from(block_w) * u64::from(block_h);
    let src = image.as_raw();
    let stride = width as usize * 4;
    let mut out = RgbaImage::new(out_w, out_h);
    let mut row_sums = vec![0u64; out_w as usize * 4];
    for oy in 0..out_h {
        row_sums.iter_mut().for_each(|s| *s = 0);
        for dy in 0..block_h {
            let y = (oy * factor + dy) as usize;
            let row = &src[y * stride..(y + 1) * stride];
            for ox in 0..out_w as usize {
                let base = ox * factor as usize * 4;
                let acc = &mut row_sums[ox * 4..ox * 4 + 4];
                for dx in 0..block_w as usize {
                    let p = &row[base + dx * 4..base + dx * 4 + 4];
                    acc[0] += u64::from(p[0]);
                    acc[1] += u64::from(p[1]);
                    acc[2] += u64::from(p[2]);
                    acc[3] += u64::from(p[3]);
                }
            }
        }
        for ox in 0..out_w {
            let acc = &row_sums[ox as usize * 4..ox as usize * 4 + 4];
            let px = image::Rgba([
                ((acc[0] + n / 2) / n) as u8,
                ((acc[1] + n / 2) / n) as u8,
                ((acc[2] + n / 2) / n) as u8,
                ((acc[3] + n / 2) / n) as u8,
            ]);
            out.put_pixel(ox, oy, px);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_reduce_averages_blocks() {
        let mut image = RgbaImage::new(5, 4);
        for (x, _, p) in image.enumerate_pixels_mut() {
            *p = image::Rgba([if x % 2 == 0 { 0 } else { 200 }, 10, 20, 255]);
        }
        let out = box_reduce(&image, 2);
        assert_eq!(out.dimensions(), (2, 2));
        assert_eq!(out.get_pixel(0, 0).0, [100, 10, 20, 255]);
    }
}
