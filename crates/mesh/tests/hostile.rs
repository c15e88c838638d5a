//! Hostile and odd inputs: each must give a clear error or a valid model, never a panic or a huge allocation.

mod common;

use common::*;
use image::codecs::png::PngEncoder;
use image::{ImageEncoder, RgbaImage};
use mesh402_mesh::{ImageKind, Limits, MeshError, MeshParams, generate, generate_with_limits, preflight};

fn attempt(bytes: &[u8], kind: ImageKind) -> Result<mesh402_mesh::Model, MeshError> {
    generate(bytes, kind, &MeshParams::default(), &mut |_| {})
}

fn expect_code(bytes: &[u8], kind: ImageKind, code: &str) {
    let err = attempt(bytes, kind).expect_err("must fail");
    assert_eq!(err.code(), code, "{err}");
    assert!(err.is_client_error());
    let message = err.to_string();
    assert!(message.ends_with('.') && !message.contains('\n'), "one sentence: {message}");
    let pre = preflight(bytes, kind, &MeshParams::default()).expect_err("preflight must fail too");
    assert_eq!(pre.code(), code);
}

/// A valid result must be a closed model.
fn expect_error_or_valid(bytes: &[u8], kind: ImageKind) {
    match attempt(bytes, kind) {
        Ok(model) => {
            let glb = read_glb(&model.files[0].bytes);
            let topo = topology(&glb.positions, &glb.tris);
            assert!(topo.watertight_oriented && topo.vertex_manifold && topo.volume > 0.0, "{topo:?}");
        }
        Err(err) => {
            eprintln!("{:?}: {} ({})", kind, err, err.code());
            assert!(!err.to_string().is_empty());
            assert!(err.is_client_error(), "internal error on hostile input: {err}");
        }
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
    out
}

#[test]
fn empty_garbage_and_mismatched_bytes() {
    expect_code(&[], ImageKind::Png, "image_empty");
    expect_code(b"this is not an image at all", ImageKind::Jpeg, "image_decode_failed");
    let png = png_bytes(&alpha_image(&DISC));
    expect_code(&png, ImageKind::Jpeg, "image_kind_mismatch");
    expect_code(&png, ImageKind::Webp, "image_kind_mismatch");
    assert_eq!(ImageKind::from_media_type("IMAGE/PNG"), Some(ImageKind::Png));
    assert_eq!(ImageKind::from_media_type("image/jpg"), Some(ImageKind::Jpeg));
    assert_eq!(ImageKind::from_media_type("image/webp; q=1"), Some(ImageKind::Webp));
    assert_eq!(ImageKind::from_media_type("image/gif"), None);
}

#[test]
fn truncated_files() {
    let files = [
        (ImageKind::Png, png_bytes(&alpha_image(&DISC))),
        (ImageKind::Jpeg, jpeg_bytes(&photo_image(&DISC))),
        (ImageKind::Webp, webp_bytes(&alpha_image(&DISC))),
    ];
    for (kind, bytes) in files {
        for cut in [8, 30, 100, bytes.len() / 3, bytes.len() / 2, bytes.len() - 10] {
            expect_error_or_valid(&bytes[..cut], kind);
        }
    }
}

#[test]
fn png_header_declaring_100000_square_is_refused_before_allocation() {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend(png_chunk(b"IHDR", &ihdr));
    bytes.extend(png_chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]));
    bytes.extend(png_chunk(b"IEND", &[]));
    expect_code(&bytes, ImageKind::Png, "image_too_large");
    // Within the dimension limit but above a pixel budget.
    let big = png_bytes(&alpha_image(&DISC));
    let limits = Limits { max_dimension: 16_384, max_pixels: 10_000 };
    let err = generate_with_limits(&big, ImageKind::Png, &MeshParams::default(), &limits, &mut |_| {})
        .expect_err("over the pixel budget");
    assert_eq!(err.code(), "image_too_large");
}

#[test]
fn tiny_blank_and_transparent_images() {
    let one = png_bytes(&RgbaImage::from_pixel(1, 1, image::Rgba([10, 20, 30, 255])));
    expect_code(&one, ImageKind::Png, "image_too_small");
    let clear = png_bytes(&RgbaImage::from_pixel(300, 200, image::Rgba([0, 0, 0, 0])));
    expect_code(&clear, ImageKind::Png, "no_object_found");
    let white = jpeg_bytes(&RgbaImage::from_pixel(300, 200, image::Rgba([255, 255, 255, 255])));
    expect_code(&white, ImageKind::Jpeg, "no_object_found");
    // The object fills the whole frame.
    let full =
        jpeg_bytes(&RgbaImage::from_fn(300, 200, |x, y| image::Rgba([(x % 256) as u8, (y % 256) as u8, 90, 255])));
    expect_error_or_valid(&full, ImageKind::Jpeg);
    // Random noise.
    let mut state = 0x1234_5678u32;
    let noise = RgbaImage::from_fn(256, 256, |_, _| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let b = state.to_le_bytes();
        image::Rgba([b[0], b[1], b[2], 255])
    });
    expect_error_or_valid(&jpeg_bytes(&noise), ImageKind::Jpeg);
    expect_error_or_valid(&png_bytes(&noise), ImageKind::Png);
}

#[test]
fn sixteen_bit_png_makes_a_model() {
    let rgba8 = alpha_image(&RING);
    let data: Vec<u8> = rgba8.as_raw().iter().flat_map(|&v| (u16::from(v) * 257).to_be_bytes()).collect();
    let mut bytes = Vec::new();
    PngEncoder::new(&mut bytes)
        .write_image(&data, rgba8.width(), rgba8.height(), image::ExtendedColorType::Rgba16)
        .expect("16-bit png");
    let model = attempt(&bytes, ImageKind::Png).expect("16-bit PNG works");
    let glb = read_glb(&model.files[0].bytes);
    assert_eq!(topology(&glb.positions, &glb.tris).euler, 0);
}

/// An animated WebP built by hand: VP8X with the animation flag, ANIM, and two ANMF frames whose payload is the
/// VP8L chunk of a still lossless WebP.
fn animated_webp(frame: &RgbaImage) -> Vec<u8> {
    let still = webp_bytes(frame);
    let vp8l_at = still.windows(4).position(|w| w == b"VP8L").expect("VP8L chunk");
    let vp8l_len = u32::from_le_bytes(still[vp8l_at + 4..vp8l_at + 8].try_into().expect("len")) as usize;
    let mut vp8l = still[vp8l_at..vp8l_at + 8 + vp8l_len].to_vec();
    if vp8l.len() % 2 == 1 {
        vp8l.push(0);
    }
    let (w, h) = (frame.width() - 1, frame.height() - 1);
    let u24 = |v: u32| v.to_le_bytes()[..3].to_vec();
    let chunk = |tag: &[u8; 4], data: &[u8]| {
        let mut out = tag.to_vec();
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(0);
        }
        out
    };
    let mut vp8x = vec![0x12, 0, 0, 0];
    vp8x.extend(u24(w));
    vp8x.extend(u24(h));
    let anim = [0u8, 0, 0, 0, 0, 0];
    let mut body = b"WEBP".to_vec();
    body.extend(chunk(b"VP8X", &vp8x));
    body.extend(chunk(b"ANIM", &anim));
    for _ in 0..2 {
        let mut anmf = Vec::new();
        anmf.extend(u24(0));
        anmf.extend(u24(0));
        anmf.extend(u24(w));
        anmf.extend(u24(h));
        anmf.extend(u24(100));
        anmf.push(0);
        anmf.extend_from_slice(&vp8l);
        body.extend(chunk(b"ANMF", &anmf));
    }
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend(body);
    out
}

#[test]
fn animated_webp_uses_a_frame_or_fails_clearly() {
    let bytes = animated_webp(&alpha_image(&DISC));
    expect_error_or_valid(&bytes, ImageKind::Webp);
}

#[test]
fn mutated_files_never_panic() {
    let originals = [
        (ImageKind::Png, png_bytes(&alpha_image(&ELL))),
        (ImageKind::Jpeg, jpeg_bytes(&photo_image(&ELL))),
        (ImageKind::Webp, webp_bytes(&alpha_image(&ELL))),
    ];
    let mut state = 42u64;
    for (kind, original) in originals {
        for _ in 0..12 {
            let mut bytes = original.clone();
            for _ in 0..4 {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let at = (state >> 33) as usize % bytes.len();
                bytes[at] ^= (state >> 24) as u8 | 1;
            }
            let _ = attempt(&bytes, kind);
        }
    }
}

#[test]
fn preflight_reports_size_and_foreground() {
    let bytes = jpeg_bytes(&photo_image(&DISC));
    let pre = preflight(&bytes, ImageKind::Jpeg, &MeshParams::default()).expect("preflight");
    assert_eq!((pre.width, pre.height), (DISC.w, DISC.h));
    let expected = std::f32::consts::PI * 100.0 * 100.0 / (DISC.w * DISC.h) as f32;
    assert!((pre.foreground_fraction - expected).abs() < 0.02, "{}", pre.foreground_fraction);
    let bad = MeshParams { texture_size: 300, ..Default::default() };
    assert_eq!(preflight(&bytes, ImageKind::Jpeg, &bad).expect_err("bad").code(), "invalid_option");
}
