//! A stand-in for the Hunyuan3D-2 model server (a GPU server cannot run on a test machine), written from its
//! `api_server.py`: `POST /send` with `{image | text, texture, seed, face_count, type}` answers `{uid}`; `GET
//! /status/{uid}` answers `{status: "processing"}` until `{status: "completed", model_base64}`; the 2.1 server adds
//! `texturing` and `error` (with a message). Like the real server, a job it cannot do never ends: a textured job on
//! a server started without `--enable_tex` (its worker thread dies on the missing texture pipeline), and a text
//! job on the 2.0 server (its text-to-image pipeline is commented out). Its models are real GLBs made by the
//! embedded generator; it can also be slow, fail, answer too much or answer garbage.
//!
//! Mirrors Tencent-Hunyuan/Hunyuan3D-2 `api_server.py` at commit 54b7eab96c31894c7fa884ee8aac5ed44dc482d5 (its
//! last change): `--enable_tex` loads the texture pipeline; the text-to-image pipeline is commented out while the
//! `text` branch still calls it; a job's thread that raises leaves no `{uid}.glb`, so its status stays
//! `processing`. And Tencent-Hunyuan/Hunyuan3D-2.1 `api_server.py` (commit 20f04ab16e30d3b7830338d2aaad2721d4a67622):
//! `texturing` while only the untextured model exists, `error` when reading the model failed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mesh402_core::{ImageKind, MeshParams, ModelGenerator, PictureRequest};
use mesh402_mesh::EmbeddedGenerator;
use serde_json::{Value, json};

/// What the server does with a job it can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Processing twice, then the model.
    Good,
    /// Processing forever (as the real server does when a generation raised).
    NeverDone,
    /// `/send` answers 503 this many times first.
    SendFails(usize),
    /// `/status` never answers.
    StatusHangs,
    /// A model of this many bytes of base64 text.
    Oversized(usize),
    /// `model_base64` is not base64.
    NotBase64,
    /// The model is half a GLB.
    Truncated,
    /// `/status` answers HTML.
    NotJson,
    /// The Hunyuan3D-2.1 server: processing, then texturing, then the model.
    Texturing,
    /// The Hunyuan3D-2.1 server reporting that the generation failed.
    ErrorStatus,
    /// The first `completed` answer holds half the GLB (the server still writing it), the next the whole.
    HalfWrittenOnce,
}

/// How the server was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    /// With `--enable_tex`: it can texture models. Without, a job that asks for a texture never ends.
    pub enable_tex: bool,
    /// It makes models from text (a server whose operator restored the text-to-image pipeline). Without, a text
    /// job never ends, as on `api_server.py` at HEAD.
    pub takes_text: bool,
}

impl Default for Started {
    /// A server that can do what mesh402 asks of it: textures and text.
    fn default() -> Started {
        Started { enable_tex: true, takes_text: true }
    }
}

/// The running stand-in: what it was sent, and how many jobs ran at once.
pub struct ModelServer {
    behaviour: Behaviour,
    started: Started,
    /// The GLB it hands out.
    pub model: Vec<u8>,
    /// `/send` calls so far.
    pub sends: AtomicUsize,
    /// `/status` calls so far.
    pub polls: AtomicUsize,
    /// The body of every `/send`.
    pub bodies: Mutex<Vec<Value>>,
    /// Jobs sent and not yet answered with a model, and the most there ever were at once.
    running: AtomicUsize,
    /// The most jobs that were running at once.
    pub most_running: AtomicUsize,
    /// The uids of jobs that can never end (see [`Started`]).
    doomed: Mutex<Vec<String>>,
}

impl ModelServer {
    /// Starts the server on the current tokio runtime; returns it and its URL.
    pub async fn start(behaviour: Behaviour, started: Started, picture: &[u8]) -> (Arc<ModelServer>, String) {
        let server = ModelServer::new(behaviour, started, picture);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let app = ModelServer::router(server.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (server, url)
    }

    /// Starts the server on a runtime of its own (for a blocking client that makes its own); keep the runtime.
    pub fn start_on_own_runtime(
        behaviour: Behaviour,
        started: Started,
        picture: &[u8],
    ) -> (Arc<ModelServer>, String, tokio::runtime::Runtime) {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a runtime");
        let (server, url) = runtime.block_on(ModelServer::start(behaviour, started, picture));
        (server, url, runtime)
    }

    fn new(behaviour: Behaviour, started: Started, picture: &[u8]) -> Arc<ModelServer> {
        let model = EmbeddedGenerator
            .generate(
                PictureRequest { image: picture, kind: ImageKind::Png, params: &MeshParams::default() },
                &mut |_| {},
            )
            .expect("the embedded generator models the picture");
        Arc::new(ModelServer {
            behaviour,
            started,
            model: model.files[0].bytes.clone(),
            sends: AtomicUsize::new(0),
            polls: AtomicUsize::new(0),
            bodies: Mutex::new(Vec::new()),
            running: AtomicUsize::new(0),
            most_running: AtomicUsize::new(0),
            doomed: Mutex::new(Vec::new()),
        })
    }

    fn router(server: Arc<ModelServer>) -> Router {
        Router::new().route("/send", post(send)).route("/status/{uid}", get(status)).with_state(server)
    }
}

async fn send(State(server): State<Arc<ModelServer>>, body: axum::Json<Value>) -> Response {
    let n = server.sends.fetch_add(1, Ordering::SeqCst);
    server.bodies.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(body.0.clone());
    if let Behaviour::SendFails(failures) = server.behaviour
        && n < failures
    {
        return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
    }
    let uid = format!("5f0c5e7c-0c7e-4f7e-9d6e-{n:012}");
    let cannot = (body["texture"] == json!(true) && !server.started.enable_tex)
        || (body.get("text").is_some() && !server.started.takes_text);
    if cannot {
        server.doomed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(uid.clone());
    } else {
        let running = server.running.fetch_add(1, Ordering::SeqCst) + 1;
        server.most_running.fetch_max(running, Ordering::SeqCst);
    }
    axum::Json(json!({ "uid": uid })).into_response()
}

async fn status(State(server): State<Arc<ModelServer>>, Path(uid): Path<String>) -> Response {
    let n = server.polls.fetch_add(1, Ordering::SeqCst);
    let processing = || axum::Json(json!({ "status": "processing" })).into_response();
    if server.doomed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(&uid) {
        // The worker thread died; nothing ever tells the uid's status otherwise.
        return processing();
    }
    let completed = |model: String| {
        server.running.fetch_sub(1, Ordering::SeqCst);
        axum::Json(json!({ "status": "completed", "model_base64": model })).into_response()
    };
    match server.behaviour {
        Behaviour::NeverDone => processing(),
        Behaviour::StatusHangs => std::future::pending().await,
        _ if n < 2 => processing(),
        Behaviour::Texturing if n < 4 => axum::Json(json!({ "status": "texturing" })).into_response(),
        Behaviour::ErrorStatus => {
            axum::Json(json!({ "status": "error", "message": "CUDA out of memory" })).into_response()
        }
        Behaviour::HalfWrittenOnce if n == 2 => axum::Json(
            json!({ "status": "completed", "model_base64": STANDARD.encode(&server.model[..server.model.len() / 2]) }),
        )
        .into_response(),
        Behaviour::Good | Behaviour::SendFails(_) | Behaviour::Texturing | Behaviour::HalfWrittenOnce => {
            completed(STANDARD.encode(&server.model))
        }
        Behaviour::Oversized(size) => completed("A".repeat(size)),
        Behaviour::NotBase64 => completed("this is not base64!".into()),
        Behaviour::Truncated => completed(STANDARD.encode(&server.model[..server.model.len() / 2])),
        Behaviour::NotJson => "<html>502 Bad Gateway</html>".into_response(),
    }
}
