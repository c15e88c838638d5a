//! The Hunyuan3D client against the test kit's stand-in for the model server (`mesh402_testkit::model_server`: a
//! GPU server cannot run on this machine, so it is built from `api_server.py`), whose models are real GLBs made by
//! the embedded generator. It can be slow, fail, answer too much, or answer garbage; each must end in a clear error
//! (or the fallback), within the deadline, and only a checked GLB becomes a model. Like the real server, it never
//! finishes a job it cannot do: a texture without `--enable_tex`, text without a text-to-image pipeline.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mesh402_core::{
    Format, GenerateError, ImageKind, MaskSource, MeshParams, ModelGenerator, PictureRequest, PromptRequest,
};
use mesh402_hunyuan3d::{GlbError, Hunyuan3d, Hunyuan3dSettings, check_glb};
use mesh402_mesh::EmbeddedGenerator;
use mesh402_testkit::model_server::{Behaviour, ModelServer, Started};
use serde_json::json;

/// A picture with an object on a transparent background.
fn picture() -> Vec<u8> {
    let image = image::RgbaImage::from_fn(160, 160, |x, y| {
        let inside = ((x as f32 - 80.0).powi(2) + (y as f32 - 80.0).powi(2)).sqrt() < 60.0;
        if inside { image::Rgba([40, 120, 200, 255]) } else { image::Rgba([0, 0, 0, 0]) }
    });
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
    bytes
}

/// Starts the test kit's stand-in with `behaviour`, as a server that can texture and read text, on its own
/// runtime (the client under test makes its own).
/// The request for a model of the PNG `image` with `params`.
fn png<'a>(image: &'a [u8], params: &'a MeshParams) -> PictureRequest<'a> {
    PictureRequest { image, kind: ImageKind::Png, params }
}

/// The request for a model of a red teapot, from text, with `params`.
fn teapot(params: &MeshParams) -> PromptRequest<'_> {
    PromptRequest { prompt: "a red teapot", params }
}

fn start(behaviour: Behaviour) -> (Arc<ModelServer>, String, tokio::runtime::Runtime) {
    ModelServer::start_on_own_runtime(behaviour, Started::default(), &picture())
}

/// The generator on this machine: it checks pictures, and makes the model when the fallback is on.
fn local() -> Arc<dyn ModelGenerator> {
    Arc::new(EmbeddedGenerator)
}

fn settings(url: &str) -> Hunyuan3dSettings {
    // reqwest is built without a default TLS provider; the binary installs ring, as this does.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Hunyuan3dSettings {
        url: url.into(),
        deadline: Duration::from_secs(10),
        call_timeout: Duration::from_secs(2),
        poll_interval: Duration::from_millis(50),
        send_retries: 2,
        max_model_bytes: 4 * 1024 * 1024,
        texture: true,
        max_jobs: 1,
        prompts: true,
    }
}

fn generate(generator: &Hunyuan3d, params: &MeshParams) -> Result<mesh402_core::Model, GenerateError> {
    generator.generate(png(&picture(), params), &mut |_| {})
}

#[test]
fn a_good_server_makes_the_model_and_is_asked_in_the_documented_shape() {
    let (fake, url, _runtime) = start(Behaviour::Good);
    let generator = Hunyuan3d::new(settings(&url), local(), false).unwrap();
    let mut stages = Vec::new();
    let params = MeshParams { target_faces: 30_000, ..MeshParams::default() };
    let model = generator.generate(png(&picture(), &params), &mut |p| stages.push(p.percent)).unwrap();
    assert_eq!(model.files.len(), 1);
    assert_eq!((model.files[0].name.as_str(), model.files[0].media_type), ("model.glb", "model/gltf-binary"));
    assert_eq!(model.files[0].bytes, fake.model, "the server's GLB, unchanged");
    assert_eq!(model.stats.mask_source, MaskSource::External);
    let facts = check_glb(&fake.model, u64::MAX).unwrap();
    assert_eq!(u64::from(model.stats.n_faces), facts.triangles);
    let allowed = facts.triangles - 1;
    let too_many = GlbError::TooManyTriangles { found: facts.triangles, allowed };
    assert_eq!(check_glb(&fake.model, allowed), Err(too_many));
    assert_eq!(check_glb(&fake.model[4..], u64::MAX), Err(GlbError::NotGlb));
    let cut = check_glb(&fake.model[..fake.model.len() / 2], u64::MAX);
    assert!(matches!(cut, Err(GlbError::InvalidGltf(_))), "{cut:?}");
    assert!(stages.windows(2).all(|pair| pair[0] <= pair[1]) && stages.last() == Some(&100), "{stages:?}");

    let bodies = fake.bodies.lock().unwrap();
    assert_eq!(bodies.len(), 1, "one job sent");
    let body = &bodies[0];
    assert_eq!(STANDARD.decode(body["image"].as_str().unwrap()).unwrap(), picture(), "the picture, base64");
    assert_eq!((&body["type"], &body["texture"], &body["face_count"]), (&json!("glb"), &json!(true), &json!(30_000)));
    assert!(body["seed"].is_u64(), "{body}");
    for left_to_the_server in ["octree_resolution", "num_inference_steps"] {
        assert!(body.get(left_to_the_server).is_none(), "{left_to_the_server} is the model's own: {body}");
    }
    assert!(fake.polls.load(Ordering::SeqCst) >= 3, "polled until completed");
}

/// The story every generator passes (`mesh402_testkit::model_generator_story`), against a server that works.
#[test]
fn a_working_server_passes_the_generator_story() {
    let (_fake, url, _runtime) = start(Behaviour::Good);
    let generator = Hunyuan3d::new(settings(&url), local(), false).unwrap();
    let expected = mesh402_testkit::Expected { formats: &[Format::Glb], prompts: true };
    mesh402_testkit::model_generator_story(&generator, expected);
}

#[test]
fn it_also_runs_on_a_blocking_thread_of_the_services_runtime() {
    let (_fake, url, runtime) = start(Behaviour::Good);
    let generator = Arc::new(Hunyuan3d::new(settings(&url), local(), false).unwrap());
    let model = runtime
        .block_on(runtime.spawn_blocking(move || generate(&generator, &MeshParams::default())))
        .unwrap()
        .unwrap();
    assert_eq!(&model.files[0].bytes[..4], b"glTF");
}

#[test]
fn a_server_that_never_finishes_ends_at_the_deadline() {
    let (_fake, url, _runtime) = start(Behaviour::NeverDone);
    let generator =
        Hunyuan3d::new(Hunyuan3dSettings { deadline: Duration::from_secs(2), ..settings(&url) }, local(), false);
    let started = Instant::now();
    let error = generate(&generator.unwrap(), &MeshParams::default()).unwrap_err();
    assert!(matches!(error, GenerateError::GeneratorUnavailable { .. }), "{error:?}");
    assert!(!error.is_client_error(), "the server's fault: the job is retried, then refunded");
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
}

#[test]
fn a_status_call_that_hangs_is_cut_by_its_timeout_and_the_deadline() {
    let (_fake, url, _runtime) = start(Behaviour::StatusHangs);
    let settings = Hunyuan3dSettings {
        deadline: Duration::from_secs(3),
        call_timeout: Duration::from_millis(500),
        ..settings(&url)
    };
    let started = Instant::now();
    let error = generate(&Hunyuan3d::new(settings, local(), false).unwrap(), &MeshParams::default()).unwrap_err();
    assert_eq!(error.code(), "generator_unavailable", "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[test]
fn a_failing_send_is_retried_a_bounded_number_of_times() {
    let (fake, url, _runtime) = start(Behaviour::SendFails(2));
    let model = generate(&Hunyuan3d::new(settings(&url), local(), false).unwrap(), &MeshParams::default()).unwrap();
    assert_eq!(model.files[0].bytes, fake.model);
    assert_eq!(fake.sends.load(Ordering::SeqCst), 3, "two failures, then the job");

    let (fake, url, _runtime) = start(Behaviour::SendFails(usize::MAX));
    let error = generate(&Hunyuan3d::new(settings(&url), local(), false).unwrap(), &MeshParams::default()).unwrap_err();
    assert_eq!(error.code(), "generator_unavailable");
    assert_eq!(fake.sends.load(Ordering::SeqCst), 3, "the first try and two retries, no more");
}

#[test]
fn oversized_garbled_or_invalid_models_are_refused_before_they_are_stored() {
    for (behaviour, expected) in [
        (Behaviour::Oversized(8 * 1024 * 1024), "over the limit"),
        (Behaviour::NotBase64, "not base64"),
        (Behaviour::Truncated, "glTF"),
        (Behaviour::NotJson, "something else"),
    ] {
        let (_fake, url, _runtime) = start(behaviour);
        let error =
            generate(&Hunyuan3d::new(settings(&url), local(), false).unwrap(), &MeshParams::default()).unwrap_err();
        assert_eq!(error.code(), "mesh_check_failed", "{behaviour:?}: {error:?}");
        assert!(error.to_string().contains(expected), "{behaviour:?}: {error}");
    }
    // A real model with more triangles than asked for (twice the cap) is refused too.
    let (_fake, url, _runtime) = start(Behaviour::Good);
    let few = MeshParams { target_faces: 500, ..MeshParams::default() };
    let error = generate(&Hunyuan3d::new(settings(&url), local(), false).unwrap(), &few).unwrap_err();
    assert!(error.to_string().contains("triangles"), "{error}");
}

#[test]
fn with_a_fallback_a_server_that_is_down_hands_the_job_to_the_embedded_generator() {
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let without = Hunyuan3d::new(Hunyuan3dSettings { send_retries: 0, ..settings(&url) }, local(), false).unwrap();
    assert_eq!(generate(&without, &MeshParams::default()).unwrap_err().code(), "generator_unavailable");
    let with = Hunyuan3d::new(Hunyuan3dSettings { send_retries: 0, ..settings(&url) }, local(), true).unwrap();
    let model = generate(&with, &MeshParams::default()).unwrap();
    assert_ne!(model.stats.mask_source, MaskSource::External, "made by the embedded generator");
}

#[test]
fn the_preflight_refuses_formats_the_server_cannot_make_and_pictures_that_show_nothing() {
    let generator = Hunyuan3d::new(settings("http://127.0.0.1:9"), local(), false).unwrap();
    let obj = MeshParams { format: Format::Obj, ..MeshParams::default() };
    assert_eq!(generator.preflight(png(&picture(), &obj)).unwrap_err().code(), "invalid_option");
    let blank = image::RgbImage::from_pixel(200, 200, image::Rgb([128, 128, 128]));
    let mut bytes = Vec::new();
    blank.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
    let refused = generator.preflight(png(&bytes, &MeshParams::default())).unwrap_err();
    assert_eq!(refused.code(), "no_object_found");
    assert!(generator.preflight(png(&picture(), &MeshParams::default())).is_ok());
    assert!(Hunyuan3d::new(settings("ftp://gpu"), local(), false).is_err());
}

#[test]
fn a_prompt_is_sent_as_text_and_its_model_checked_like_a_pictures() {
    let (fake, url, _runtime) = start(Behaviour::Good);
    let generator = Hunyuan3d::new(settings(&url), local(), true).unwrap();
    assert!(generator.preflight_prompt(teapot(&MeshParams::default())).is_ok());
    let obj = MeshParams { format: Format::Obj, ..MeshParams::default() };
    assert_eq!(generator.preflight_prompt(teapot(&obj)).unwrap_err().code(), "invalid_option");
    let model = generator.generate_from_prompt(teapot(&MeshParams::default()), &mut |_| {}).unwrap();
    assert_eq!(model.files[0].bytes, fake.model);
    let bodies = fake.bodies.lock().unwrap();
    assert_eq!(bodies[0]["text"], "a red teapot");
    assert!(bodies[0].get("image").is_none(), "a prompt sends no picture: {}", bodies[0]);
    assert_eq!(bodies[0]["type"], "glb");
}

#[test]
fn a_prompt_whose_server_fails_is_the_servers_fault_even_with_a_fallback() {
    for behaviour in [Behaviour::Truncated, Behaviour::NeverDone] {
        let (_fake, url, _runtime) = start(behaviour);
        let settings = Hunyuan3dSettings { deadline: Duration::from_secs(1), ..settings(&url) };
        let generator = Hunyuan3d::new(settings, local(), true).unwrap();
        let error = generator.generate_from_prompt(teapot(&MeshParams::default()), &mut |_| {}).unwrap_err();
        assert!(!error.is_client_error(), "{behaviour:?}: {error}");
        assert!(["mesh_check_failed", "generator_unavailable"].contains(&error.code()), "{behaviour:?}: {error}");
    }
}

#[test]
fn the_2_1_servers_statuses_are_understood() {
    // `texturing` is still working; `error` ends the attempt as the server's fault (the fallback may run).
    let (fake, url, _runtime) = start(Behaviour::Texturing);
    let model = generate(&Hunyuan3d::new(settings(&url), local(), false).unwrap(), &MeshParams::default()).unwrap();
    assert_eq!(model.files[0].bytes, fake.model);
    let (_fake, url, _runtime) = start(Behaviour::ErrorStatus);
    let error = generate(&Hunyuan3d::new(settings(&url), local(), false).unwrap(), &MeshParams::default()).unwrap_err();
    assert_eq!(error.code(), "generator_unavailable", "{error:?}");
    assert!(error.to_string().contains("CUDA out of memory"), "{error}");
    let with = Hunyuan3d::new(settings(&url), local(), true).unwrap();
    assert_ne!(generate(&with, &MeshParams::default()).unwrap().stats.mask_source, MaskSource::External);
}

#[test]
fn a_model_still_being_written_is_asked_for_again() {
    let (fake, url, _runtime) = start(Behaviour::HalfWrittenOnce);
    let model = generate(&Hunyuan3d::new(settings(&url), local(), false).unwrap(), &MeshParams::default()).unwrap();
    assert_eq!(model.files[0].bytes, fake.model, "the whole model, from the next answer");
}

#[test]
fn one_job_at_a_time_is_sent_to_a_server_unless_more_are_allowed() {
    for (max_jobs, expected) in [(1, 1), (2, 2)] {
        let (fake, url, _runtime) = start(Behaviour::Good);
        let generator =
            Arc::new(Hunyuan3d::new(Hunyuan3dSettings { max_jobs, ..settings(&url) }, local(), false).unwrap());
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let generator = generator.clone();
                std::thread::spawn(move || generate(&generator, &MeshParams::default()).map(|_| ()))
            })
            .collect();
        for thread in threads {
            thread.join().unwrap().unwrap();
        }
        assert_eq!(fake.most_running.load(Ordering::SeqCst), expected, "max_jobs {max_jobs}");
    }
}

#[test]
fn prompts_are_refused_unless_the_operator_says_the_server_takes_them() {
    let generator =
        Hunyuan3d::new(Hunyuan3dSettings { prompts: false, ..settings("http://127.0.0.1:9") }, local(), false).unwrap();
    let refused = generator.preflight_prompt(teapot(&MeshParams::default())).unwrap_err();
    assert_eq!((refused.code(), refused.is_client_error()), ("prompt_unsupported", true));
}

#[test]
fn the_embedded_generator_refuses_prompts() {
    let refused = EmbeddedGenerator.preflight_prompt(teapot(&MeshParams::default())).unwrap_err();
    assert_eq!((refused.code(), refused.is_client_error()), ("prompt_unsupported", true));
}

/// A server started without `--enable_tex` never finishes a job that asks for a texture (its worker thread dies):
/// mesh402 asks for one only when the operator says the server has it, and then the model comes back.
#[test]
fn a_texture_is_asked_for_only_when_the_operator_says_the_server_makes_them() {
    let started = Started { enable_tex: false, takes_text: false };
    let (fake, url, _runtime) = ModelServer::start_on_own_runtime(Behaviour::Good, started, &picture());
    let textured = Hunyuan3dSettings { deadline: Duration::from_secs(2), ..settings(&url) };
    let error = generate(&Hunyuan3d::new(textured, local(), false).unwrap(), &MeshParams::default()).unwrap_err();
    assert_eq!(error.code(), "generator_unavailable", "the job never ends, as on the real server: {error:?}");
    let plain = Hunyuan3dSettings { texture: false, ..settings(&url) };
    let model = generate(&Hunyuan3d::new(plain, local(), false).unwrap(), &MeshParams::default()).unwrap();
    assert_eq!(model.files[0].bytes, fake.model);
    assert_eq!(fake.bodies.lock().unwrap()[1]["texture"], false, "no texture asked of a server without one");
}

/// The 2.0 server at HEAD has no text-to-image pipeline: a text job never ends there, which is why prompts are
/// offered only where the operator declares a server that takes them (and then they work).
#[test]
fn a_prompt_to_a_server_without_text_to_image_never_ends_so_it_is_offered_only_when_declared() {
    let started = Started { enable_tex: true, takes_text: false };
    let (_fake, url, _runtime) = ModelServer::start_on_own_runtime(Behaviour::Good, started, &picture());
    let declared = Hunyuan3dSettings { deadline: Duration::from_secs(2), ..settings(&url) };
    let generator = Hunyuan3d::new(declared, local(), false).unwrap();
    let error = generator.generate_from_prompt(teapot(&MeshParams::default()), &mut |_| {}).unwrap_err();
    assert_eq!(error.code(), "generator_unavailable", "{error:?}");
    let undeclared = Hunyuan3dSettings { prompts: false, ..settings(&url) };
    let refused = Hunyuan3d::new(undeclared, local(), false).unwrap().preflight_prompt(teapot(&MeshParams::default()));
    assert_eq!(refused.unwrap_err().code(), "prompt_unsupported", "refused before any invoice");
}
