//! The story every [`ModelGenerator`] must pass: the preflight accepts a picture of an object and refuses a blank
//! one and out-of-range options before any invoice, as client errors; the model is in the format asked for, its
//! primary file named and typed by that format, reported with increasing progress that ends at 100; a prompt is
//! refused before any invoice unless the generator says it takes text.

use image::{ImageFormat, Rgba, RgbaImage};
use mesh402_core::{Format, GenerateError, ImageKind, MeshParams, ModelGenerator, PictureRequest, PromptRequest};

use crate::disc_png;

/// What the story expects of the generator beyond the contract: the formats it makes and whether it takes text.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The formats it makes; the others must be refused by the preflight.
    pub formats: &'a [Format],
    /// Whether its preflight accepts a text prompt.
    pub prompts: bool,
}

/// The request for a model of the PNG `image` with `params`.
fn png<'a>(image: &'a [u8], params: &'a MeshParams) -> PictureRequest<'a> {
    PictureRequest { image, kind: ImageKind::Png, params }
}

fn blank_png() -> Vec<u8> {
    let image = RgbaImage::from_pixel(200, 200, Rgba([250, 250, 250, 255]));
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), ImageFormat::Png).expect("a PNG encodes");
    bytes
}

/// Runs the story against `generator`. Blocking: call it from a plain thread or `spawn_blocking`.
pub fn model_generator_story(generator: &dyn ModelGenerator, expected: Expected<'_>) {
    let picture = disc_png(160, 60.0);
    let defaults = MeshParams::default();

    // Before any invoice: a picture of an object passes, with its size; nothing and bad options do not.
    let checked = generator.preflight(png(&picture, &defaults)).expect("a disc passes the preflight");
    assert_eq!((checked.width, checked.height), (160, 160));
    let refusals: [(Vec<u8>, MeshParams, &str); 3] = [
        (blank_png(), defaults.clone(), "a blank picture"),
        (Vec::new(), defaults.clone(), "no bytes"),
        (picture.clone(), MeshParams { target_faces: 10, ..defaults.clone() }, "too few faces"),
    ];
    for (bytes, params, what) in refusals {
        let error = generator.preflight(png(&bytes, &params)).expect_err(what);
        assert!(error.is_client_error(), "{what}: {error:?}");
    }
    for format in Format::ALL.into_iter().filter(|format| !expected.formats.contains(format)) {
        let params = MeshParams { format, ..defaults.clone() };
        let error = generator.preflight(png(&picture, &params)).expect_err("a format it does not make");
        assert!(error.is_client_error(), "{format:?}: {error:?}");
    }

    // The model: in the format asked for, progress increasing to 100.
    for &format in expected.formats {
        let params = MeshParams { format, ..defaults.clone() };
        let mut percents = Vec::new();
        let model = generator
            .generate(png(&picture, &params), &mut |progress| percents.push(progress.percent))
            .expect("the model of a disc");
        assert_eq!(model.format, format);
        let primary = model.files.first().expect("a primary file");
        assert_eq!((primary.name.as_str(), primary.media_type), (format.file_name(), format.media_type()));
        assert!(!primary.bytes.is_empty());
        assert!(model.stats.n_faces > 0, "{format:?}: no faces");
        assert!(percents.windows(2).all(|pair| pair[0] <= pair[1]), "{format:?}: {percents:?}");
        assert_eq!(percents.last(), Some(&100), "{format:?}: {percents:?}");
        // What the quote promised is what the model holds, and file names are unique.
        let promised = generator.deliverables(&params);
        assert_eq!(promised.formats, model.formats(), "{format:?}: the formats promised are the formats made");
        assert_eq!(promised.preview, model.has_preview(), "{format:?}: the preview promised");
        let mut names: Vec<&str> = model.files.iter().map(|file| file.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), model.files.len(), "{format:?}: file names repeat");
    }

    // Text: refused before any invoice unless the generator takes it.
    let prompt = generator.preflight_prompt(PromptRequest { prompt: "a red teapot", params: &defaults });
    match expected.prompts {
        true => prompt.expect("a generator that takes text accepts a prompt"),
        false => assert!(matches!(prompt, Err(GenerateError::PromptUnsupported)), "{prompt:?}"),
    }
}
