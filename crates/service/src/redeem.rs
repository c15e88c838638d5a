//! The paid path: verifying a credential (the one place it is done), claiming the token's one job, and finding a
//! job again for the credential that paid for it.

use mesh402_core::JobState;
use mesh402_l402::{RequestBinding, VerifiedToken, VerifyContext, VerifyError, verify};
use mesh402_store::{Claim, Job, JobId, NewJob};

use crate::credential::payment_token;
use crate::{Credential, JobView, ModelRequest, RedeemError, Rejection, SERVICE_NAME, Service, ServiceError, unix_now};

impl Service {
    /// Verifies a credential of either scheme: an L402 token's signature, preimage, expiry and revocation, or a
    /// `Payment` credential's challenge id (our key), realm, charge, preimage and lifetime; and, when `binding` is
    /// given, that it was bought for that request. A scheme this server does not offer is refused. Needs no call
    /// to the Lightning node. This is the only place a credential is checked.
    pub fn verify(&self, credential: &Credential, binding: Option<RequestBinding>) -> Result<VerifiedToken, Rejection> {
        let config = &self.inner.config;
        if !config.schemes.offers(credential.scheme()) {
            return Err(Rejection::NotOffered(credential.scheme()));
        }
        let revoked = &config.revoked_tokens;
        let now_unix = unix_now();
        match credential {
            Credential::L402(credential) => {
                let context = VerifyContext {
                    service: SERVICE_NAME,
                    now_unix,
                    request_binding: binding,
                    is_revoked: &|token_id| revoked.contains(token_id),
                };
                Ok(verify(credential, &self.inner.keyring, &context)?)
            }
            Credential::Payment(credential) => {
                let context =
                    mesh402_mpp::VerifyContext { realm: &config.payment_realm, now_unix, request_binding: binding };
                let token = payment_token(&mesh402_mpp::verify(credential, &self.inner.challenge_keys, &context)?);
                if revoked.contains(&token.token_id) {
                    return Err(VerifyError::Revoked.into());
                }
                Ok(token)
            }
        }
    }

    /// Verifies a credential for `request` and returns its job: created and started on first use, joined while
    /// it runs, returned as it is once finished, and started again if it failed (the credential is still good).
    pub async fn redeem(&self, request: &ModelRequest, credential: &Credential) -> Result<JobView, RedeemError> {
        let binding = request.binding();
        let token = match self.verify(credential, Some(binding)) {
            Ok(token) => {
                crate::metrics::credential(true, "valid");
                token
            }
            Err(reason) => {
                crate::metrics::credential(false, reason.code());
                return Err(reason.into());
            }
        };
        // Fast paths: the token already has a job (a replay, or a client polling by re-sending); a delivered one is
        // answered from memory.
        let now = unix_now();
        if let Some(job) = self.inner.delivered.get(&token.token_id, now) {
            return Ok(self.view(&job));
        }
        if let Some(job) = self.inner.jobs.job_by_token(&token.token_id).await? {
            self.inner.delivered.remember(&job, now);
            return Ok(self.rejoin(job, request).await?);
        }
        // The input is stored before the job is claimed, so a claimed job always has its input.
        let job_id = JobId(rand::random());
        self.inner.files.put_input(&job_id, request.input.bytes()).await?;
        let new_job = NewJob {
            job_id,
            token_id: token.token_id,
            payment_hash: token.payment_hash,
            request_binding: binding,
            input_kind: request.input.kind(),
            params: request.params.clone(),
            credential_expires_at: token.valid_until.unwrap_or(0),
            created_at: unix_now(),
            price: self.inner.config.price,
        };
        match self.inner.jobs.claim(&new_job).await? {
            Claim::Created(job) => {
                tracing::info!(job_id = %job.spec.job_id, "job created");
                crate::metrics::earned(self.inner.config.price.sats());
                Ok(self.start(job))
            }
            Claim::Existing(job) => {
                // Another request with the same credential won the race; ours was never used.
                self.inner.files.delete_input(&job_id).await?;
                Ok(self.rejoin(job, request).await?)
            }
        }
    }

    async fn rejoin(&self, job: Job, request: &ModelRequest) -> Result<JobView, ServiceError> {
        match job.state {
            // Delivered, or refunded (or being refunded): the credential redeems nothing more.
            JobState::Succeeded | JobState::Refunding | JobState::Refunded => Ok(self.view(&job)),
            JobState::Queued | JobState::Running => Ok(self.start(job)),
            JobState::Failed => {
                tracing::info!(job_id = %job.spec.job_id, "retrying a failed job for its still-valid credential");
                let job_id = job.spec.job_id;
                if self.inner.files.input(&job_id).await?.is_none() {
                    self.inner.files.put_input(&job_id, request.input.bytes()).await?;
                }
                // A refund claimed meanwhile wins: the requeue is then refused and the job is shown as it is.
                self.inner.jobs.requeue(&job_id, unix_now()).await?;
                let job = self.inner.jobs.job(&job_id).await?.ok_or(ServiceError::JobVanished(job_id))?;
                Ok(self.start(job))
            }
        }
    }

    /// Starts every job left queued or running by an earlier process, when this process is the store's only
    /// worker ([`Generation::Sole`](crate::Generation::Sole)): the leases its predecessor held are ended first.
    /// With a shared store the queue loop ([`Service::work_queue`]) takes them as their leases run out instead;
    /// an API node starts nothing. Returns how many jobs were started.
    pub async fn resume_unfinished(&self) -> Result<usize, ServiceError> {
        if self.inner.config.generation != crate::Generation::Sole {
            return Ok(0);
        }
        self.inner.jobs.expire_leases(unix_now()).await?;
        let unfinished = self.inner.jobs.unfinished().await?;
        let count = unfinished.len();
        for job in unfinished {
            tracing::info!(job_id = %job.spec.job_id, state = job.state.as_str(), "resuming job");
            self.start(job);
        }
        Ok(count)
    }

    /// The job, if `credential` is the one that paid for it. Status requests carry no image, so the request
    /// binding is not checked here; everything else is (signature, preimage, expiry, revocation).
    pub async fn job_for_credential(
        &self,
        job_id: &JobId,
        credential: &Credential,
    ) -> Result<Option<JobView>, ServiceError> {
        let token = match self.verify(credential, None) {
            Ok(token) => token,
            Err(reason) => {
                tracing::info!(reason = reason.code(), "status request with an invalid credential");
                return Ok(None);
            }
        };
        let Some(job) = self.inner.jobs.job(job_id).await? else { return Ok(None) };
        if job.spec.token_id != token.token_id {
            return Ok(None);
        }
        self.job(job_id).await
    }
}
