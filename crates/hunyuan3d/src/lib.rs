//! A GPU generator over the network: [`Hunyuan3d`] is a [`ModelGenerator`] that speaks the HTTP API of the open
//! Hunyuan3D-2 model server (`api_server.py` of Tencent-Hunyuan/Hunyuan3D-2), which the operator runs (its licence
//! is the operator's to accept; mesh402 ships none of its code or weights).
//!
//! The API: `POST /send` with a JSON body `{image: <base64>, texture, seed, face_count, type}` answers `{uid}` and
//! generates in the background; `GET /status/{uid}`
//! answers `{status: "processing"}` until the model exists, then `{status: "completed", model_base64}`. That server
//! never reports a failure on `/status` (a generation that raised stays "processing"), so every job has a deadline.
//! The Hunyuan3D-2.1 server also answers `{status: "texturing"}` (still working) and `{status: "error"}` (the
//! generation failed: the attempt ends, and the fallback runs when there is one). A `completed` model that does not
//! decode or parse may be one the server is still writing: it is asked for again, a bounded number of times.
//!
//! Both servers run every job on one pipeline on one GPU (their semaphore is unused), so parallel jobs can corrupt
//! each other or run out of memory: by default one job at a time is sent to a server (`max_jobs`), the others wait
//! for it before their deadline starts. Texturing is asked for only when the operator says the server was started
//! with `--enable_tex` (without it the server's worker thread dies and the job never ends).
//! `POST /send` is retried a bounded number of times (connection failures and 5xx answers), each call has its own
//! timeout, an answer larger than the configured limit is refused before it is all read, and the returned GLB is
//! parsed and checked (`glb.rs`: valid glTF, triangles within the limit, finite bounds) before it becomes the
//! job's model. With the fallback on, a model server that fails hands the job to the local generator.
//!
//! The server makes GLB only, so other formats are refused by the preflight, before any invoice; the picture
//! itself is checked by the local generator's preflight (a blank or noise picture is refused there too). The local
//! generator is given, not named: this crate depends on `mesh402-core` alone.
//!
//! The API also has a `text` field instead of `image` (a server with a text-to-image model draws the picture first),
//! but `api_server.py` at HEAD has that pipeline commented out and no flag to enable it: prompts are accepted only
//! when the operator says the server really takes them (`prompts`), and refused before any invoice otherwise. The
//! fallback cannot make a model of a prompt: a prompt whose model server fails ends as the server's fault, not as
//! a model of something else.

#![deny(missing_docs)]

mod glb;

pub use glb::{GlbError, GlbFacts, check_glb};

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mesh402_core::{
    Format, GenerateError, MaskSource, MeshParams, Model, ModelGenerator, OutputFile, PictureRequest, Preflight,
    Progress, PromptRequest, Stage, Stats,
};
use serde::Deserialize;

/// How to reach the model server and how long to wait for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunyuan3dSettings {
    /// The server's base URL, e.g. `http://gpu-box:8081`.
    pub url: String,
    /// The longest one model may take, from `/send` to the checked GLB.
    pub deadline: Duration,
    /// The longest one HTTP call may take.
    pub call_timeout: Duration,
    /// How often `/status` is asked.
    pub poll_interval: Duration,
    /// How many times a failed `/send` is tried again.
    pub send_retries: u32,
    /// The largest model accepted, in bytes (its base64 text may be a third larger).
    pub max_model_bytes: usize,
    /// Whether the server is asked to texture the model (it must run with `--enable_tex`).
    pub texture: bool,
    /// How many jobs are sent to the server at once (its pipeline serves one at a time).
    pub max_jobs: usize,
    /// Whether the operator says the server makes models from text prompts (`api_server.py` at HEAD does not: its
    /// text-to-image pipeline is commented out); without it, prompts are refused before any invoice.
    pub prompts: bool,
}

/// The Hunyuan3D-2 model server as a generator. See the module docs.
pub struct Hunyuan3d {
    settings: Hunyuan3dSettings,
    client: reqwest::Client,
    /// The generator on this machine: it checks pictures before any invoice, and makes the model when the
    /// server does not deliver and `fallback` is on.
    local: Arc<dyn ModelGenerator>,
    fallback: bool,
    /// One permit per job the server may run at once.
    jobs: tokio::sync::Semaphore,
}

impl std::fmt::Debug for Hunyuan3d {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hunyuan3d")
            .field("settings", &self.settings)
            .field("fallback", &self.fallback)
            .finish_non_exhaustive()
    }
}

/// Why [`Hunyuan3d::new`] refused its settings.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The URL is not an `http://` or `https://` one.
    #[error("{0:?} is not an http(s) URL")]
    NotHttp(String),
    /// The HTTP client could not be built (no TLS provider installed).
    #[error("the HTTP client could not be built: {0}")]
    Client(#[source] reqwest::Error),
}

/// Why the model server did not deliver.
#[derive(Debug, thiserror::Error)]
enum RemoteError {
    /// It could not be reached, answered with an error, or took too long.
    #[error("{0}")]
    Unavailable(String),
    /// It delivered something that is not an acceptable model.
    #[error("{0}")]
    Invalid(String),
}

impl From<RemoteError> for GenerateError {
    fn from(error: RemoteError) -> Self {
        match error {
            RemoteError::Unavailable(reason) => GenerateError::GeneratorUnavailable { reason },
            RemoteError::Invalid(reason) => {
                GenerateError::MeshCheckFailed { reason: format!("the model server's model: {reason}") }
            }
        }
    }
}

#[derive(Deserialize)]
struct Sent {
    uid: String,
}

#[derive(Deserialize)]
struct Status {
    status: String,
    #[serde(default)]
    model_base64: Option<String>,
    /// What a 2.1 server says with `error`.
    #[serde(default)]
    message: Option<String>,
}

/// How many times a `completed` model that does not read is asked for again before the attempt fails.
const HALF_WRITTEN_RETRIES: u32 = 2;

/// Most triangles accepted from the model server when the request names no cap of its own.
const MAX_TRIANGLES: u64 = 2_000_000;

impl Hunyuan3d {
    /// Checks the settings and builds the HTTP client (no call is made yet). `local` checks pictures before any
    /// invoice and, when `fallback` is on, makes the model when the server does not deliver.
    pub fn new(
        settings: Hunyuan3dSettings,
        local: Arc<dyn ModelGenerator>,
        fallback: bool,
    ) -> Result<Hunyuan3d, SettingsError> {
        let url = settings.url.trim_end_matches('/').to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(SettingsError::NotHttp(url));
        }
        let client = reqwest::Client::builder()
            .timeout(settings.call_timeout)
            .connect_timeout(settings.call_timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(SettingsError::Client)?;
        let jobs = tokio::sync::Semaphore::new(settings.max_jobs.max(1));
        Ok(Hunyuan3d { settings: Hunyuan3dSettings { url, ..settings }, client, local, fallback, jobs })
    }

    /// Makes one model on the server: send, poll until done or the deadline, decode, check. Each call to the
    /// server is run to its end by `runner`; progress is reported between calls, outside any async context (the
    /// service's progress callback blocks on its store).
    fn generate_remote(
        &self,
        runner: &Runner,
        source: Source<'_>,
        params: &MeshParams,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(Vec<u8>, GlbFacts), RemoteError> {
        // The deadline runs from the moment the server is free for this job.
        let _turn = runner
            .run(self.jobs.acquire())
            .map_err(|_| RemoteError::Unavailable("the generator is shutting down".into()))?;
        let started = Instant::now();
        let deadline = started + self.settings.deadline;
        progress(Progress { stage: Stage::Decode, percent: 0 });
        let mut body = serde_json::json!({
            "texture": self.settings.texture,
            "seed": 1234,
            // No `octree_resolution` or `num_inference_steps`: the server's defaults fit the model it runs (the
            // 2.0 turbo model's 5 steps and octree 128; the 2.1 server refuses more than 20 steps), and a fixed
            // value would be wrong for all but one of them.
            "face_count": params.target_faces,
            "type": "glb",
        });
        match source {
            Source::Image(image) => body["image"] = STANDARD.encode(image).into(),
            Source::Text(prompt) => body["text"] = prompt.into(),
        }
        let uid = runner.run(self.send(&body, deadline))?;
        let mut polls = 0u32;
        let mut unreadable = 0u32;
        let max_triangles = u64::from(params.target_faces).saturating_mul(2).clamp(1, MAX_TRIANGLES);
        let model = loop {
            if Instant::now() >= deadline {
                return Err(RemoteError::Unavailable(format!(
                    "no model within the deadline of {} s",
                    self.settings.deadline.as_secs()
                )));
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let polled = runner.run(async {
                tokio::time::timeout(remaining, self.status(&uid))
                    .await
                    .unwrap_or_else(|_| Err(RemoteError::Unavailable("GET /status: past the deadline".into())))
            });
            match polled {
                Ok(Status { status, model_base64: Some(model), .. }) if status == "completed" => {
                    match self.read_model(&model, max_triangles) {
                        Ok(model) => break model,
                        // Perhaps still being written: ask again, a bounded number of times.
                        Err(error) if unreadable < HALF_WRITTEN_RETRIES => {
                            unreadable += 1;
                            tracing::warn!(%error, "the completed model does not read yet; asking again");
                        }
                        Err(error) => return Err(error),
                    }
                }
                Ok(Status { status, .. }) if status == "processing" || status == "texturing" => {}
                Ok(Status { status, message, .. }) if status == "error" => {
                    let said = message.map(|text| format!(": {}", text.chars().take(200).collect::<String>()));
                    return Err(RemoteError::Unavailable(format!(
                        "the model server reported an error{}",
                        said.unwrap_or_default()
                    )));
                }
                Ok(Status { status, .. }) => {
                    return Err(RemoteError::Invalid(format!("an unknown status {:?}", status.chars().take(40))));
                }
                // One failed poll is not the end: the job runs on the server; the deadline bounds the retries.
                Err(RemoteError::Unavailable(reason)) => tracing::warn!(%reason, "a status poll failed"),
                Err(invalid) => return Err(invalid),
            }
            polls += 1;
            let elapsed = started.elapsed().as_secs_f64() / self.settings.deadline.as_secs_f64();
            progress(Progress { stage: Stage::Heights, percent: (5.0 + 85.0 * elapsed.min(1.0)) as u8 });
            std::thread::sleep(self.settings.poll_interval.min(deadline.saturating_duration_since(Instant::now())));
        };
        tracing::debug!(polls, "the model server finished");
        progress(Progress { stage: Stage::Check, percent: 95 });
        Ok(model)
    }

    /// A `completed` answer's model: base64 of a GLB within the size and triangle limits.
    fn read_model(&self, encoded: &str, max_triangles: u64) -> Result<(Vec<u8>, GlbFacts), RemoteError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|error| RemoteError::Invalid(format!("model_base64 is not base64: {error}")))?;
        if bytes.len() > self.settings.max_model_bytes {
            return Err(RemoteError::Invalid(format!("{} bytes, over the limit", bytes.len())));
        }
        let facts = check_glb(&bytes, max_triangles).map_err(|error| RemoteError::Invalid(error.to_string()))?;
        Ok((bytes, facts))
    }

    async fn send(&self, body: &serde_json::Value, deadline: Instant) -> Result<String, RemoteError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match self.client.post(format!("{}/send", self.settings.url)).json(body).send().await {
                Err(error) => RemoteError::Unavailable(format!("POST /send: {}", without_url(&error))),
                Ok(answer) if answer.status().is_server_error() => {
                    RemoteError::Unavailable(format!("POST /send answered {}", answer.status()))
                }
                Ok(answer) if !answer.status().is_success() => {
                    return Err(RemoteError::Invalid(format!("POST /send answered {}", answer.status())));
                }
                Ok(answer) => {
                    let sent: Sent = serde_json::from_slice(&self.read_capped(answer, 4096).await?)
                        .map_err(|error| RemoteError::Invalid(format!("POST /send answered no uid: {error}")))?;
                    let valid = !sent.uid.is_empty()
                        && sent.uid.len() <= 64
                        && sent.uid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
                    return if valid {
                        Ok(sent.uid)
                    } else {
                        Err(RemoteError::Invalid("POST /send: a bad uid".into()))
                    };
                }
            };
            if attempt > self.settings.send_retries || Instant::now() >= deadline {
                return Err(error);
            }
            tracing::warn!(attempt, reason = %error, "the model server refused the job; trying again");
            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
        }
    }

    async fn status(&self, uid: &str) -> Result<Status, RemoteError> {
        let answer = self
            .client
            .get(format!("{}/status/{uid}", self.settings.url))
            .send()
            .await
            .map_err(|error| RemoteError::Unavailable(format!("GET /status: {}", without_url(&error))))?;
        if !answer.status().is_success() {
            return Err(RemoteError::Unavailable(format!("GET /status answered {}", answer.status())));
        }
        // Base64 is 4/3 of the bytes, plus the JSON around it.
        let limit = self.settings.max_model_bytes / 3 * 4 + 1024;
        serde_json::from_slice(&self.read_capped(answer, limit).await?)
            .map_err(|error| RemoteError::Invalid(format!("GET /status answered something else: {error}")))
    }

    /// Reads an answer's body, refusing it as soon as it is over `limit` bytes.
    async fn read_capped(&self, mut answer: reqwest::Response, limit: usize) -> Result<Vec<u8>, RemoteError> {
        if answer.content_length().is_some_and(|length| length > limit as u64) {
            return Err(RemoteError::Invalid(format!("an answer of {} bytes, over the limit", limit)));
        }
        let mut body = Vec::new();
        while let Some(chunk) = answer
            .chunk()
            .await
            .map_err(|error| RemoteError::Unavailable(format!("reading an answer: {}", without_url(&error))))?
        {
            if body.len() + chunk.len() > limit {
                return Err(RemoteError::Invalid(format!("an answer over the limit of {limit} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// What the model server makes a model of: the `image` or the `text` of `POST /send`.
#[derive(Clone, Copy)]
enum Source<'a> {
    Image(&'a [u8]),
    Text(&'a str),
}

/// Runs the client's futures from the blocking thread `generate` is called on: on the service's runtime when
/// there is one (a blocking thread of it), else on a small runtime of its own (a test, a tool).
enum Runner {
    Shared(tokio::runtime::Handle),
    Own(tokio::runtime::Runtime),
}

impl Runner {
    fn new() -> std::io::Result<Runner> {
        Ok(match tokio::runtime::Handle::try_current() {
            Ok(handle) => Runner::Shared(handle),
            Err(_) => Runner::Own(tokio::runtime::Builder::new_current_thread().enable_all().build()?),
        })
    }

    fn run<F: std::future::Future>(&self, future: F) -> F::Output {
        match self {
            Runner::Shared(handle) => handle.block_on(future),
            Runner::Own(runtime) => runtime.block_on(future),
        }
    }
}

/// A request error without the URL (which is the operator's, and may carry credentials in its user info).
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "failed"
    };
    kind.to_owned()
}

impl Hunyuan3d {
    /// One model from the server, as a [`Model`]; the error when it did not deliver.
    fn remote_model(
        &self,
        source: Source<'_>,
        params: &MeshParams,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Model, RemoteError> {
        let started = Instant::now();
        let runner = Runner::new().map_err(|error| RemoteError::Unavailable(error.to_string()))?;
        let (bytes, facts) = self.generate_remote(&runner, source, params, progress)?;
        progress(Progress { stage: Stage::Encode, percent: 100 });
        Ok(Model {
            format: Format::Glb,
            files: vec![OutputFile {
                name: Format::Glb.file_name().into(),
                media_type: Format::Glb.media_type(),
                bytes,
            }],
            stats: Stats {
                n_faces: u32::try_from(facts.triangles).unwrap_or(u32::MAX),
                n_vertices: u32::try_from(facts.vertices).unwrap_or(u32::MAX),
                mask_source: MaskSource::External,
                mask_confidence: 1.0,
                n_parts: facts.meshes,
                stage_ms: vec![(Stage::Heights, started.elapsed().as_secs_f64() * 1e3)],
            },
        })
    }
}

/// The server makes GLB models only.
fn glb_only(params: &MeshParams) -> Result<(), GenerateError> {
    if params.format != Format::Glb {
        return Err(GenerateError::InvalidOption("this server's model generator makes GLB models only".into()));
    }
    Ok(())
}

impl ModelGenerator for Hunyuan3d {
    fn preflight(&self, request: PictureRequest<'_>) -> Result<Preflight, GenerateError> {
        glb_only(request.params)?;
        self.local.preflight(request)
    }

    fn generate(
        &self,
        request: PictureRequest<'_>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Model, GenerateError> {
        match self.remote_model(Source::Image(request.image), request.params, progress) {
            Ok(model) => Ok(model),
            Err(error) if self.fallback => {
                tracing::warn!(reason = %error, "the model server did not deliver; the local generator runs");
                self.local.generate(request, progress)
            }
            Err(error) => Err(error.into()),
        }
    }

    fn preflight_prompt(&self, request: PromptRequest<'_>) -> Result<(), GenerateError> {
        if !self.settings.prompts {
            return Err(GenerateError::PromptUnsupported);
        }
        glb_only(request.params)
    }

    fn generate_from_prompt(
        &self,
        request: PromptRequest<'_>,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Model, GenerateError> {
        Ok(self.remote_model(Source::Text(request.prompt), request.params, progress)?)
    }
}
