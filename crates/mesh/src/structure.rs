//! A cheap proof that a large file is whole, for the unpaid preflight: the container's structure is walked and its
//! checksums verified without decoding a pixel. A JPEG must run from SOI through a frame header, Huffman and
//! quantisation tables and at least one scan to EOI; a PNG must be IHDR, IDAT chunks and IEND, every chunk's CRC
//! correct; a WebP must be a RIFF file whose size and chunk sizes agree, with an image chunk. Truncated, cut or
//! padded files fail here; damage inside entropy-coded or compressed data is found only by the full decode after
//! payment (then the job is rejected and the credential stays good).
//!
//! Written here because the decoders offer no "validate without decoding" mode; each walk is a few dozen lines of
//! the formats' own framing rules (ITU-T T.81 annex B, PNG §5, the RIFF/WebP container).

use crate::{GenerateError, ImageKind};

fn damaged(what: &str) -> GenerateError {
    GenerateError::ImageDecodeFailed { source: Some(format!("structure: {what}").into()) }
}

/// Checks the container structure of `bytes` as `kind`.
pub(crate) fn check(bytes: &[u8], kind: ImageKind) -> Result<(), GenerateError> {
    match kind {
        ImageKind::Jpeg => jpeg(bytes),
        ImageKind::Png => png(bytes),
        ImageKind::Webp => webp(bytes),
    }
}

fn jpeg(bytes: &[u8]) -> Result<(), GenerateError> {
    if !bytes.starts_with(&[0xff, 0xd8]) {
        return Err(damaged("no JPEG start marker"));
    }
    let (mut frame, mut huffman, mut quant, mut scans) = (false, false, false, 0usize);
    let mut i = 2;
    loop {
        // Markers may be preceded by fill bytes 0xFF.
        while i < bytes.len() && bytes[i] == 0xff && bytes.get(i + 1) == Some(&0xff) {
            i += 1;
        }
        if i + 1 >= bytes.len() || bytes[i] != 0xff {
            return Err(damaged("a JPEG marker is missing (the file is cut or padded)"));
        }
        let marker = bytes[i + 1];
        i += 2;
        match marker {
            0xd9 => break,
            0x01 | 0xd0..=0xd7 => continue,
            _ => {}
        }
        let Some(len) = bytes.get(i..i + 2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]]))) else {
            return Err(damaged("a JPEG segment is cut"));
        };
        if len < 2 || i + len > bytes.len() {
            return Err(damaged("a JPEG segment runs past the end of the file"));
        }
        match marker {
            0xc0..=0xcf if !matches!(marker, 0xc4 | 0xc8 | 0xcc) => frame = true,
            0xc4 => huffman = true,
            0xdb => quant = true,
            _ => {}
        }
        i += len;
        if marker == 0xda {
            scans += 1;
            // Entropy-coded data: runs to the next marker that is not a stuffed 0xFF00 or a restart marker.
            loop {
                let Some(offset) = bytes[i..].iter().position(|&b| b == 0xff) else {
                    return Err(damaged("the JPEG scan data is cut (no end marker)"));
                };
                i += offset;
                match bytes.get(i + 1) {
                    Some(0x00 | 0xd0..=0xd7 | 0xff) => i += 1,
                    Some(_) => break,
                    None => return Err(damaged("the JPEG scan data is cut (no end marker)")),
                }
            }
        }
    }
    // Baseline files may rely on the standard Huffman tables only when they say so in a DHT; every real encoder
    // writes them, and a file without quantisation tables cannot be decoded at all.
    if !(frame && quant && huffman && scans > 0) {
        return Err(damaged("the JPEG lacks a frame header, tables or a scan"));
    }
    Ok(())
}

fn png(bytes: &[u8]) -> Result<(), GenerateError> {
    const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    if !bytes.starts_with(&SIGNATURE) {
        return Err(damaged("no PNG signature"));
    }
    let mut i = SIGNATURE.len();
    let (mut first, mut idat) = (true, false);
    loop {
        let Some(head) = bytes.get(i..i + 8) else {
            return Err(damaged("the PNG is cut (no IEND chunk)"));
        };
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind = &head[4..8];
        let end = i.checked_add(12).and_then(|v| v.checked_add(len)).filter(|&e| e <= bytes.len());
        let Some(end) = end else {
            return Err(damaged("a PNG chunk runs past the end of the file"));
        };
        let stored = u32::from_be_bytes([bytes[end - 4], bytes[end - 3], bytes[end - 2], bytes[end - 1]]);
        if crc32fast::hash(&bytes[i + 4..end - 4]) != stored {
            return Err(damaged("a PNG chunk's CRC is wrong"));
        }
        if first && kind != b"IHDR" {
            return Err(damaged("the PNG does not start with IHDR"));
        }
        first = false;
        idat |= kind == b"IDAT";
        i = end;
        if kind == b"IEND" {
            break;
        }
    }
    if !idat {
        return Err(damaged("the PNG has no image data"));
    }
    Ok(())
}

fn webp(bytes: &[u8]) -> Result<(), GenerateError> {
    if bytes.len() < 20 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WEBP" {
        return Err(damaged("no RIFF/WEBP header"));
    }
    let riff_len = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    let Some(end) = riff_len.checked_add(8).filter(|&e| e <= bytes.len()) else {
        return Err(damaged("the WebP is cut (shorter than its RIFF size)"));
    };
    let mut i = 12;
    let mut image = false;
    while i + 8 <= end {
        let kind = &bytes[i..i + 4];
        let len = u32::from_le_bytes([bytes[i + 4], bytes[i + 5], bytes[i + 6], bytes[i + 7]]) as usize;
        // Chunks are padded to an even size.
        let Some(next) = (i + 8).checked_add(len + (len & 1)).filter(|&n| n <= end + (len & 1)) else {
            return Err(damaged("a WebP chunk runs past the end of the file"));
        };
        image |= matches!(kind, b"VP8 " | b"VP8L" | b"ANMF");
        i = next;
    }
    if !image {
        return Err(damaged("the WebP has no image chunk"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(kind: ImageKind) -> Vec<u8> {
        let image = image::RgbaImage::from_fn(64, 48, |x, y| image::Rgba([(x * 4) as u8, (y * 5) as u8, 90, 255]));
        let format = match kind {
            ImageKind::Png => image::ImageFormat::Png,
            ImageKind::Jpeg => image::ImageFormat::Jpeg,
            ImageKind::Webp => image::ImageFormat::WebP,
        };
        let mut bytes = Vec::new();
        let rgb = image::DynamicImage::ImageRgba8(image).into_rgb8();
        rgb.write_to(&mut std::io::Cursor::new(&mut bytes), format).expect("encode");
        bytes
    }

    #[test]
    fn whole_files_pass_and_cut_ones_fail() {
        for kind in [ImageKind::Png, ImageKind::Jpeg, ImageKind::Webp] {
            let bytes = encode(kind);
            check(&bytes, kind).unwrap_or_else(|err| panic!("{kind:?}: {err:?}"));
            for cut in [bytes.len() - 1, bytes.len() - 7, bytes.len() / 2, 30] {
                assert!(check(&bytes[..cut], kind).is_err(), "{kind:?} cut at {cut} of {}", bytes.len());
            }
        }
    }

    #[test]
    fn a_flipped_png_byte_fails_its_crc() {
        let mut bytes = encode(ImageKind::Png);
        let at = bytes.len() - 20;
        bytes[at] ^= 0x40;
        assert!(check(&bytes, ImageKind::Png).is_err());
    }
}
