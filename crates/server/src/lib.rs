//! The HTTP face of mesh402: the only crate that serves HTTP.
//!
//! [`Config`] is resolved once; [`build`] opens the data directory (secrets, SQLite, files) and wires the
//! backends into a [`mesh402_service::Service`]; [`router`] maps routes to handlers; [`serve`] runs it until a
//! shutdown signal. Every error leaves as one JSON shape ([`error::ApiError`]); `WWW-Authenticate` is only ever
//! sent on a 402.
//!
//! A paid request flows through the modules in this order: `request` (the body) → `gate` (the credential, or a
//! 402 challenge) → `endpoint` (redeem) → `job_status` (wait, 202, status and events) → `downloads`; a job that
//! could not be delivered is refunded through `refund`.

#![deny(missing_docs)]

pub mod config;
mod dev_pay;
#[cfg(feature = "postgres")]
mod dev_wallet_ledger;
pub mod discovery;
mod downloads;
mod endpoint;
pub mod error;
pub mod error_codes;
mod gate;
mod health;
mod invoice_status;
mod job_status;
pub mod licence;
pub mod limits;
pub mod metrics;
mod openapi;
mod refund;
pub mod request;
mod serve;
pub mod terms;
mod web;

pub use config::{
    Config, ConfigError, DatabaseChoice, FileStoreChoice, GeneratorChoice, LightningChoice, RawConfig, Refunds, Role,
};
pub use downloads::model_url;
pub use serve::{SHUTDOWN_GRACE, bind_listener, serve, serve_app, work};

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Method, header};
use axum::routing::{get, post};
use mesh402_api::paths;
use mesh402_core::ModelGenerator;
use mesh402_l402::{Keyring, Msat, ServerSecret};
use mesh402_ln::{DevWallet, InvoicePayer, LightningBackend, LnError, LnbitsPayer};
use mesh402_mesh::EmbeddedGenerator;
use mesh402_service::{Generation, MAX_ATTEMPTS, REFUND_PAYMENT_TIMEOUT, Service, ServiceConfig, ServiceParts};
#[cfg(feature = "s3")]
use mesh402_store::S3FileStore;
use mesh402_store::{FileStore, LocalFileStore, SqlJobStore, load_or_create_secret};
use tower_http::cors::{Any, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The application core.
    pub service: Service,
    /// Where model files are read from.
    pub files: Arc<dyn FileStore>,
    /// The development wallet, when it is the backend (it enables `/dev/pay`).
    pub dev_wallet: Option<Arc<DevWallet>>,
    /// Base of the URLs handed to clients, without a trailing slash.
    pub public_url: String,
    /// Longest a request waits for its model.
    pub max_wait: std::time::Duration,
    /// The body size limit.
    pub max_body_bytes: usize,
    /// The limits on unpaid traffic.
    pub limits: Arc<limits::Limits>,
    /// What is sold and on what terms, for the discovery documents.
    pub offer: Arc<discovery::Offer>,
}

/// A failure to start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data directory or a file in it could not be used.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The path involved.
        path: std::path::PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The database or file store could not be opened.
    #[error("storage cannot be opened")]
    Storage(#[from] mesh402_store::StoreError),
    /// The jobs left unfinished by an earlier process could not be resumed.
    #[error("unfinished jobs cannot be resumed")]
    Resume(#[source] mesh402_service::ServiceError),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Probes the Lightning backend ([`LightningBackend::probe`]) before anything is served: a refused credential
/// or an answer that is not the backend's refuses the start with the setting to fix; a node that cannot be
/// reached now is only warned about (it may come up later, and the 402 path answers 503 until it does).
async fn probe_lightning(backend: &dyn LightningBackend, choice: &LightningChoice) -> Result<(), StartError> {
    let (credential, url) = match choice {
        LightningChoice::Lnbits(_) => ("lnbits_invoice_key", "lnbits_url"),
        #[cfg(feature = "lnd")]
        LightningChoice::Lnd(_) => ("lnd_macaroon_file", "lnd_rest_url"),
        #[cfg(feature = "cln")]
        LightningChoice::Cln(_) => ("cln_rune", "cln_rest_url"),
        #[cfg(feature = "nwc")]
        LightningChoice::Nwc(_) => ("nwc_uri", "nwc_uri"),
        _ => return Ok(()),
    };
    match backend.probe().await {
        Ok(()) => Ok(()),
        Err(LnError::Unauthorized) => Err(StartError::Config(ConfigError::invalid(
            credential,
            format!("the {} backend refused this credential at start-up", backend.name()),
        ))),
        Err(LnError::BadResponse(reason)) => Err(StartError::Config(ConfigError::invalid(
            url,
            format!("what answers there is not a working {} backend: {reason}", backend.name()),
        ))),
        Err(error) => {
            tracing::warn!(backend = backend.name(), error = %error, "the Lightning backend cannot be reached at start-up; invoices will fail until it can");
            Ok(())
        }
    }
}

/// The `Payment` scheme's realm: the public URL's host (`models.example.com`, `127.0.0.1`), which is what
/// clients compare it with.
fn payment_realm(public_url: &str) -> String {
    url::Url::parse(public_url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| "mesh402".to_owned())
}

/// Opens the data directory and builds the application state, with the embedded generator.
pub async fn build(config: &Config, public_url: String) -> Result<AppState, StartError> {
    let generator: Arc<dyn ModelGenerator> = match &config.generator {
        GeneratorChoice::Embedded => Arc::new(EmbeddedGenerator),
        #[cfg(feature = "hunyuan3d")]
        GeneratorChoice::Hunyuan3d { settings, fallback, .. } => {
            tracing::info!(url = %settings.url, fallback, "models are made by a Hunyuan3D-2 model server");
            Arc::new(
                mesh402_hunyuan3d::Hunyuan3d::new(settings.clone(), Arc::new(EmbeddedGenerator), *fallback)
                    .map_err(|error| StartError::Config(ConfigError::invalid("hunyuan3d_url", error.to_string())))?,
            )
        }
    };
    build_with_generator(config, public_url, generator).await
}

/// Like [`build`], with another generator (a GPU model, or a test double).
pub async fn build_with_generator(
    config: &Config,
    public_url: String,
    generator: Arc<dyn ModelGenerator>,
) -> Result<AppState, StartError> {
    let data_dir = &config.data_dir;
    let io_error = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| StartError::DataDir { path, source }
    };
    std::fs::create_dir_all(data_dir).map_err(io_error(data_dir))?;
    let secret_path = data_dir.join("server.key");
    let server_secret = load_or_create_secret(&secret_path).map_err(io_error(&secret_path))?;
    let keyring = Keyring::new(ServerSecret::from_bytes(server_secret));

    let (jobs, generation) = match (&config.database, config.role) {
        (DatabaseChoice::Sqlite, _) => {
            let store = SqlJobStore::open_sqlite(&data_dir.join("mesh402.db")).await?;
            (store, Generation::Sole)
        }
        #[cfg(feature = "postgres")]
        (DatabaseChoice::Postgres(url), role) => {
            let store = SqlJobStore::connect_postgres(url.expose()).await?;
            (store, if role == Role::Api { Generation::Elsewhere } else { Generation::Shared })
        }
    };
    tracing::info!(database = ?jobs.dialect(), role = ?config.role, "job records");
    let jobs = Arc::new(jobs);

    let backend_error = |error: LnError| StartError::Config(ConfigError::Backend(error));
    // The backend, and the same node as the payer of refunds when it may pay with its credential.
    let by_backend = config.refunds == Refunds::ByBackend;
    let (lightning, payer, dev_wallet): (Arc<dyn LightningBackend>, Option<Arc<dyn InvoicePayer>>, _) = match &config
        .lightning
    {
        LightningChoice::Dev => {
            let key_path = data_dir.join("dev-wallet.key");
            let node_secret = load_or_create_secret(&key_path).map_err(io_error(&key_path))?;
            // The ledger of paid invoices: in the database the nodes of a deployment share, else in a file.
            let wallet = match &config.database {
                #[cfg(feature = "postgres")]
                DatabaseChoice::Postgres(_) => {
                    let ledger = Box::new(dev_wallet_ledger::DatabaseLedger(jobs.clone()));
                    DevWallet::with_ledger(&node_secret, ledger).map_err(io_error(&key_path))?
                }
                DatabaseChoice::Sqlite => {
                    let ledger_path = data_dir.join("dev-wallet-paid.ledger");
                    DevWallet::open(&node_secret, &ledger_path).map_err(io_error(&ledger_path))?
                }
            };
            let wallet = Arc::new(wallet);
            tracing::info!(node_id = %wallet.node_id(), "using the development wallet (regtest)");
            (wallet.clone(), by_backend.then(|| wallet.clone() as Arc<dyn InvoicePayer>), Some(wallet))
        }
        LightningChoice::Lnbits(settings) => {
            tracing::info!(url = %settings.url, "using LNbits");
            let backend = Arc::new(mesh402_ln::Lnbits::new(settings.clone()).map_err(backend_error)?);
            let payer = match &config.refunds {
                Refunds::ByLnbitsAdminKey(admin_key) => Some(Arc::new(
                    LnbitsPayer::new(&settings.url, admin_key.clone(), REFUND_PAYMENT_TIMEOUT)
                        .map_err(backend_error)?,
                ) as Arc<dyn InvoicePayer>),
                _ => None,
            };
            (backend, payer, None)
        }
        #[cfg(feature = "lnd")]
        LightningChoice::Lnd(settings) => {
            tracing::info!(url = %settings.rest_url, pinned = settings.tls_cert_pem.is_some(), "using LND (REST)");
            let node = Arc::new(mesh402_ln::Lnd::new(settings.clone()).map_err(backend_error)?);
            (node.clone(), by_backend.then_some(node as Arc<dyn InvoicePayer>), None)
        }
        #[cfg(feature = "cln")]
        LightningChoice::Cln(settings) => {
            tracing::info!(url = %settings.rest_url, pinned = settings.tls_cert_pem.is_some(), "using Core Lightning");
            let node = Arc::new(mesh402_ln::Cln::new(settings.clone()).map_err(backend_error)?);
            (node.clone(), by_backend.then_some(node as Arc<dyn InvoicePayer>), None)
        }
        #[cfg(feature = "nwc")]
        LightningChoice::Nwc(settings) => {
            let wallet = Arc::new(mesh402_ln::Nwc::new(settings.clone()).map_err(backend_error)?);
            tracing::info!(wallet = ?wallet, "using Nostr Wallet Connect");
            (wallet.clone(), by_backend.then_some(wallet as Arc<dyn InvoicePayer>), None)
        }
    };
    probe_lightning(lightning.as_ref(), &config.lightning).await?;
    tracing::info!(refunds = payer.is_some(), "refunds of undeliverable paid jobs");
    if config.metrics_listen.is_some() {
        metrics::handle();
    }
    let files: Arc<dyn FileStore> = match &config.files {
        FileStoreChoice::Local => Arc::new(LocalFileStore::open(data_dir)?),
        #[cfg(feature = "s3")]
        FileStoreChoice::S3(settings) => {
            let bucket = S3FileStore::open(settings)?;
            bucket.verify().await?;
            tracing::info!(bucket = %settings.bucket, downloads = ?settings.downloads, "model files in S3");
            Arc::new(bucket)
        }
    };
    let service = Service::new(ServiceParts {
        config: ServiceConfig {
            price: Msat::from_sats(config.price_sats),
            invoice_expiry: config.invoice_expiry,
            token_lifetime: config.token_lifetime,
            workers: config.workers,
            max_attempts: MAX_ATTEMPTS,
            lightning_timeout: config.lightning_timeout,
            revoked_tokens: HashSet::new(),
            retention: config.retention,
            refund_input_fault_fee: Msat::from_sats(config.refund_input_fault_fee_sats),
            generation,
            lease: config.lease,
            invoice_lookups_per_second: config.traffic.invoice_lookups_per_second,
            invoice_lookup_burst: config.traffic.invoice_lookup_burst,
            schemes: config.payment_schemes,
            payment_realm: payment_realm(&public_url),
        },
        keyring,
        lightning,
        jobs,
        files: files.clone(),
        generator,
        refund_payer: payer,
    });
    let limits =
        Arc::new(limits::Limits::new(config.traffic.clone(), config.max_body_bytes, service.paid_work().clone()));
    Ok(AppState {
        service,
        files,
        dev_wallet,
        max_wait: config.max_wait,
        max_body_bytes: config.max_body_bytes,
        limits,
        offer: Arc::new(discovery::Offer::new(config, &public_url)),
        public_url,
    })
}

/// All routes, with CORS, request ids, tracing and the body limit.
pub fn router(state: AppState) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST, Method::HEAD, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, HeaderName::from_static("prefer")])
        .expose_headers([
            header::WWW_AUTHENTICATE,
            header::RETRY_AFTER,
            header::LOCATION,
            HeaderName::from_static("x-error-code"),
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("preference-applied"),
        ]);
    let request_id = HeaderName::from_static("x-request-id");
    let mut router = Router::new()
        .route(paths::MODEL, post(endpoint::create_model).get(discovery::get_model_metadata))
        // The seed service's other name for the same endpoint.
        .route(paths::MODEL_ALIAS, post(endpoint::create_model))
        .route(paths::JOB, get(job_status::job_status))
        .route(paths::JOB_EVENTS, get(job_status::job_events))
        .route(paths::JOB_REFUND, post(refund::claim_refund))
        .route(paths::MODEL_FILE, get(downloads::download_primary))
        .route(paths::MODEL_FILE_NAMED, get(downloads::download_file))
        .route(paths::QUOTE, post(endpoint::quote_model))
        .route(paths::HEALTH, get(health::health))
        .route(paths::MANIFEST, get(discovery::get_manifest))
        .route(paths::L402_JSON, get(discovery::get_l402_json))
        .route(paths::L402_JSON_ALIAS, get(discovery::get_l402_json))
        .route(paths::LLMS_TXT, get(discovery::get_llms_txt))
        .route(paths::OPENAPI, get(openapi::get_openapi))
        .route(paths::TERMS, get(terms::get_terms))
        .route(paths::ERROR_CODES, get(discovery::get_error_codes))
        .merge(web::routes());
    if state.dev_wallet.is_some() {
        router =
            router.route(paths::DEV_PAY, post(dev_pay::dev_pay)).route(paths::DEV_INVOICE, post(dev_pay::dev_invoice));
    }
    router
        // Counted under the route's pattern: a route layer runs after the route is matched.
        .route_layer(axum::middleware::from_fn(metrics::track))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        // Rate limits on unpaid requests, and who the caller is (limits.rs).
        .layer(axum::middleware::from_fn_with_state(state.clone(), limits::admit))
        .with_state(state)
        // Outermost last: request ids are set before tracing sees the request. The default trace layer logs
        // method, path and status, never headers, so credentials stay out of the logs.
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(cors)
}
