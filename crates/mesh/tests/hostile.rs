//! Hostile and odd inputs: each must give a clear error or a valid model, never a panic or a huge allocation.

mod common;

use common::*;
use image::codecs::png::PngEncoder;
use image::{ImageEncoder, RgbaImage};
use mesh402_core::{GenerateError, ImageKind, ImageLimits, MeshParams};
use mesh402_mesh::{generate, generate_with_limits, preflight};

fn attempt(bytes: &[u8], kind: ImageKind) -> Result<mesh402_core::Model, GenerateError> {
    generate(bytes, kind, &MeshParams::default(), &mut |_| {})
}

fn expect_code(bytes: &[u8], kind: ImageKind, code: &str) {
    let err = attempt(bytes, kind).expect_err("must fail");
    assert_eq!(err.code(), code, "{err}");
    assert!(err.is_client_error());
    let message = err.to_string();
    assert!(message.ends_with('.') && !message.contains('\n') && !message.contains(". "), "one sentence: {message}");
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
    let limits = ImageLimits { max_dimension: 16_384, max_pixels: 10_000 };
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
fn preflight_reports_size_and_refuses_what_shows_nothing() {
    let bytes = jpeg_bytes(&photo_image(&DISC));
    let pre = preflight(&bytes, ImageKind::Jpeg, &MeshParams::default()).expect("preflight");
    assert_eq!((pre.width, pre.height), (DISC.w, DISC.h));
    let grey = jpeg_bytes(&RgbaImage::from_pixel(300, 200, image::Rgba([128, 128, 128, 255])));
    assert_eq!(preflight(&grey, ImageKind::Jpeg, &MeshParams::default()).expect_err("grey").code(), "no_object_found");
    let bad = MeshParams { texture_size: 300, ..Default::default() };
    assert_eq!(preflight(&bytes, ImageKind::Jpeg, &bad).expect_err("bad").code(), "invalid_option");
}

/// A baseline JPEG with four components and an Adobe marker saying "no transform" (CMYK), written by hand with DC
/// coefficients only (each 8×8 block is flat), so the test needs no CMYK encoder. Values are stored inverted, as
/// Adobe applications write them (255 is no ink).
fn cmyk_jpeg(width: u16, height: u16, ink: impl Fn(u32, u32) -> [u8; 4]) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u32,
        n: u32,
    }
    impl Bits {
        fn put(&mut self, code: u32, len: u32) {
            for i in (0..len).rev() {
                self.acc = (self.acc << 1) | ((code >> i) & 1);
                self.n += 1;
                if self.n == 8 {
                    let byte = self.acc as u8;
                    self.out.push(byte);
                    if byte == 0xff {
                        self.out.push(0);
                    }
                    self.acc = 0;
                    self.n = 0;
                }
            }
        }
    }
    // The standard luminance DC table: (code, length) per size category 0..=11.
    const DC: [(u32, u32); 12] = [
        (0b00, 2),
        (0b010, 3),
        (0b011, 3),
        (0b100, 3),
        (0b101, 3),
        (0b110, 3),
        (0b1110, 4),
        (0b11110, 5),
        (0b111110, 6),
        (0b1111110, 7),
        (0b11111110, 8),
        (0b111111110, 9),
    ];
    let mut out = vec![0xff, 0xd8];
    out.extend_from_slice(&[0xff, 0xee, 0, 14, b'A', b'd', b'o', b'b', b'e', 0, 100, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&[0xff, 0xdb, 0, 67, 0]);
    out.extend_from_slice(&[1u8; 64]);
    out.extend_from_slice(&[0xff, 0xc0, 0, 20, 8]);
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&width.to_be_bytes());
    out.push(4);
    for id in 1..=4u8 {
        out.extend_from_slice(&[id, 0x11, 0]);
    }
    out.extend_from_slice(&[0xff, 0xc4, 0, 31, 0x00, 0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
    out.extend(0u8..12);
    // AC table with a single one-bit code, 0, for end-of-block (an all-ones code is not allowed).
    out.extend_from_slice(&[0xff, 0xc4, 0, 20, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00]);
    out.extend_from_slice(&[0xff, 0xda, 0, 14, 4, 1, 0x00, 2, 0x00, 3, 0x00, 4, 0x00, 0, 63, 0]);
    let mut bits = Bits { out: Vec::new(), acc: 0, n: 0 };
    let mut predictor = [0i32; 4];
    for by in 0..u32::from(height) / 8 {
        for bx in 0..u32::from(width) / 8 {
            for (c, previous) in predictor.iter_mut().enumerate() {
                let mut sum = 0i32;
                for y in 0..8 {
                    for x in 0..8 {
                        sum += i32::from(ink(bx * 8 + x, by * 8 + y)[c]);
                    }
                }
                // With a unit quantiser the DC coefficient is 8 × (mean − 128).
                let dc = (sum - 64 * 128) / 8;
                let diff = dc - *previous;
                *previous = dc;
                let size = 32 - diff.unsigned_abs().leading_zeros();
                let (code, len) = DC[size as usize];
                bits.put(code, len);
                if size > 0 {
                    let value = if diff < 0 { diff - 1 } else { diff } as u32 & ((1 << size) - 1);
                    bits.put(value, size);
                }
                bits.put(0, 1);
            }
        }
    }
    if bits.n > 0 {
        let pad = 8 - bits.n;
        bits.put((1 << pad) - 1, pad);
    }
    out.extend(bits.out);
    out.extend_from_slice(&[0xff, 0xd9]);
    out
}

#[test]
fn cmyk_jpeg_makes_a_model_or_fails_clearly() {
    let bytes = cmyk_jpeg(256, 192, |x, y| {
        let (dx, dy) = (f64::from(x) - 128.0, f64::from(y) - 96.0);
        if dx * dx + dy * dy < 60.0 * 60.0 { [235, 55, 35, 245] } else { [255, 255, 255, 255] }
    });
    let decoded = image::load_from_memory(&bytes).expect("the hand-written CMYK JPEG decodes");
    assert_eq!((decoded.width(), decoded.height()), (256, 192));
    let rgb = decoded.to_rgb8();
    eprintln!("CMYK decoded: centre {:?}, corner {:?}", rgb.get_pixel(128, 96), rgb.get_pixel(4, 4));
    let model = attempt(&bytes, ImageKind::Jpeg).expect("a CMYK disc on a plain background works");
    let glb = read_glb(&model.files[0].bytes);
    assert_eq!(topology(&glb.positions, &glb.tris).euler, 2);
}

#[test]
fn jpeg_exif_orientation_is_applied() {
    // Orientation 6: the stored picture must be turned 90° clockwise to be seen upright.
    let stored = jpeg_bytes(&photo_image(&BAR));
    let mut tiff = b"II\x2a\x00\x08\x00\x00\x00".to_vec();
    tiff.extend_from_slice(&[1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0]);
    let mut app1 = vec![0xff, 0xe1];
    app1.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
    app1.extend_from_slice(b"Exif\0\0");
    app1.extend_from_slice(&tiff);
    let mut bytes = stored[..2].to_vec();
    bytes.extend(app1);
    bytes.extend_from_slice(&stored[2..]);
    let pre = preflight(&bytes, ImageKind::Jpeg, &MeshParams::default()).expect("preflight");
    assert_eq!((pre.width, pre.height), (BAR.h, BAR.w));
    let glb = read_glb(&attempt(&bytes, ImageKind::Jpeg).expect("model").files[0].bytes);
    let extent = |d: usize| {
        let v: Vec<f32> = glb.positions.iter().map(|p| p[d]).collect();
        v.iter().copied().fold(f32::MIN, f32::max) - v.iter().copied().fold(f32::MAX, f32::min)
    };
    assert!((extent(1) - 1.0).abs() < 1e-4, "the bar stands upright: height {}", extent(1));
    assert!(extent(0) < 0.1, "and is narrow: width {}", extent(0));
}

#[test]
fn large_pictures_get_the_structural_preflight() {
    // Over the preflight's full-decode size: the preflight proves the file whole without decoding it.
    let image = RgbaImage::from_fn(1800, 1200, |x, y| {
        let (dx, dy) = (x as f32 - 900.0, y as f32 - 600.0);
        if dx * dx + dy * dy < 400.0 * 400.0 {
            image::Rgba([200, 40, 30, 255])
        } else {
            image::Rgba([235, 235, 230, 255])
        }
    });
    assert!(u64::from(image.width() * image.height()) > mesh402_mesh::PREFLIGHT_DECODE_PIXELS);
    for (kind, bytes) in [(ImageKind::Jpeg, jpeg_bytes(&image)), (ImageKind::Png, png_bytes(&image))] {
        let pre = preflight(&bytes, kind, &MeshParams::default()).expect("whole file");
        assert_eq!((pre.width, pre.height), (1800, 1200));
        for cut in [bytes.len() - 3, bytes.len() / 2] {
            let err = preflight(&bytes[..cut], kind, &MeshParams::default()).expect_err("cut file");
            assert_eq!(err.code(), "image_decode_failed", "{kind:?} cut at {cut}");
        }
    }
    // Damage inside the compressed data keeps the structure whole: the preflight passes, the paid decode refuses
    // it with the same code the preflight would have given.
    let mut png = png_bytes(&image);
    let idat = png.windows(4).position(|w| w == b"IDAT").expect("IDAT");
    let len = u32::from_be_bytes([png[idat - 4], png[idat - 3], png[idat - 2], png[idat - 1]]) as usize;
    for b in &mut png[idat + 4 + len / 2..idat + 4 + len / 2 + 64] {
        *b ^= 0x5a;
    }
    let crc = crc32(&png[idat..idat + 4 + len]).to_be_bytes();
    png[idat + 4 + len..idat + 8 + len].copy_from_slice(&crc);
    preflight(&png, ImageKind::Png, &MeshParams::default()).expect("structure is whole");
    let err = attempt(&png, ImageKind::Png).expect_err("damaged pixels");
    assert_eq!(err.code(), "image_decode_failed");
}
