//! A [`Service`] built from the fakes, with no socket, no disk and no node: for tests of the application core.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use mesh402_core::{ImageKind, MeshParams};
use mesh402_l402::{Keyring, Msat, PaymentHash, ServerSecret, TokenId};
use mesh402_service::{
    Credential, Generation, JobView, MAX_ATTEMPTS, ModelRequest, OfferedSchemes, Service, ServiceConfig, ServiceParts,
    unix_now,
};
use mesh402_store::{FileStore, JobId, JobStore, NewJob};

use crate::{FakeGenerator, FakeLightning, MemoryFileStore, MemoryJobStore};

/// The configuration tests run with: the server's defaults for price and lifetimes, two workers.
pub fn test_config() -> ServiceConfig {
    ServiceConfig {
        price: Msat::from_sats(350),
        invoice_expiry: Duration::from_secs(600),
        token_lifetime: Duration::from_secs(24 * 3600),
        workers: 2,
        max_attempts: MAX_ATTEMPTS,
        lightning_timeout: Duration::from_secs(5),
        revoked_tokens: HashSet::new(),
        retention: Duration::from_secs(7 * 24 * 3600),
        refund_input_fault_fee: Msat(0),
        generation: Generation::Sole,
        lease: Duration::from_secs(30),
        invoice_lookups_per_second: mesh402_service::DEFAULT_LOOKUPS_PER_SECOND,
        invoice_lookup_burst: mesh402_service::DEFAULT_LOOKUP_BURST,
        schemes: OfferedSchemes::Both,
        payment_realm: "mesh402.test".to_owned(),
    }
}

/// A service and the fakes it is made of, for the test to look at and steer.
pub struct TestService {
    /// The service.
    pub service: Service,
    /// Its Lightning backend.
    pub lightning: Arc<FakeLightning>,
    /// Its job records.
    pub jobs: Arc<MemoryJobStore>,
    /// Its files.
    pub files: Arc<MemoryFileStore>,
    /// Its generator.
    pub generator: Arc<FakeGenerator>,
}

impl TestService {
    /// A service with [`test_config`] and this generator.
    pub fn new(generator: FakeGenerator) -> TestService {
        TestService::with_config(test_config(), generator)
    }

    /// A service with this configuration and generator.
    pub fn with_config(config: ServiceConfig, generator: FakeGenerator) -> TestService {
        let lightning = Arc::new(FakeLightning::new());
        let jobs = Arc::new(MemoryJobStore::new());
        let files = Arc::new(MemoryFileStore::new());
        let generator = Arc::new(generator);
        let service = Service::new(ServiceParts {
            config,
            keyring: Keyring::new(ServerSecret::from_bytes(rand::random())),
            lightning: lightning.clone(),
            jobs: jobs.clone(),
            files: files.clone(),
            generator: generator.clone(),
            refund_payer: None,
        });
        TestService { service, lightning, jobs, files, generator }
    }

    /// Quotes `request`, pays the invoice and returns the L402 credential a client would send.
    pub async fn paid_credential(&self, request: &ModelRequest) -> Credential {
        self.paid_credentials(request).await.0
    }

    /// Quotes `request`, pays the invoice once and returns both credentials a client could send for it: the L402
    /// one and the `Payment` one.
    pub async fn paid_credentials(&self, request: &ModelRequest) -> (Credential, Credential) {
        let quote = self.service.quote(request, None).await.expect("a quote");
        let preimage = self.lightning.pay(&quote.payment_hash).expect("the fake node issued the invoice");
        let payment = quote.payment.expect("both schemes are offered");
        let payment = Credential::Payment(Box::new(mesh402_mpp::PaymentCredential::new(payment, &preimage)));
        let l402 = mesh402_l402::Credential { macaroons: vec![quote.challenge.macaroon], preimage };
        (Credential::L402(l402), payment)
    }

    /// Pays for `request`, redeems the credential and waits for the job to finish (a minute at most); returns the
    /// credential and the job as it ended.
    pub async fn buy(&self, request: &ModelRequest) -> (Credential, JobView) {
        let credential = self.paid_credential(request).await;
        let job_id = self.service.redeem(request, &credential).await.expect("the paid credential redeems").job_id;
        let view = self.service.wait(&job_id, Duration::from_secs(60)).await.expect("the job can be read");
        (credential, view)
    }

    /// Records a queued job for `request` as an earlier process would have left it, with `input` stored as its
    /// input (or none), and returns its id. [`Service::resume_unfinished`] picks it up.
    pub async fn queue_job(&self, n: u8, request: &ModelRequest, input: Option<&[u8]>) -> JobId {
        let job_id = JobId([n; 16]);
        if let Some(input) = input {
            self.files.put_input(&job_id, input).await.expect("the input is stored");
        }
        let job = NewJob {
            job_id,
            token_id: TokenId([n; 32]),
            payment_hash: PaymentHash([n; 32]),
            request_binding: request.binding(),
            input_kind: request.input.kind(),
            params: request.params.clone(),
            credential_expires_at: unix_now() + 3600,
            created_at: unix_now(),
            price: Msat(21_000),
        };
        self.jobs.claim(&job).await.expect("the job is recorded");
        job_id
    }
}

/// A PNG of a `size`×`size` picture with an opaque disc of `radius` pixels on a transparent background.
pub fn disc_png(size: u32, radius: f32) -> Vec<u8> {
    let centre = size as f32 / 2.0;
    let image = image::RgbaImage::from_fn(size, size, |x, y| {
        let inside = ((x as f32 - centre).powi(2) + (y as f32 - centre).powi(2)).sqrt() < radius;
        if inside { image::Rgba([180, 90, 30, 255]) } else { image::Rgba([0, 0, 0, 0]) }
    });
    let mut bytes = Vec::new();
    image.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).expect("a PNG in memory");
    bytes
}

/// A request for a model of [`disc_png`] with default parameters.
pub fn disc_request(size: u32, radius: f32) -> ModelRequest {
    ModelRequest::image(disc_png(size, radius), ImageKind::Png, MeshParams::default())
}
