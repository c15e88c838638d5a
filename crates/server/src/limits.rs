//! What unpaid traffic may use (contract §11): per-client token buckets on challenges and on unpaid requests as a
//! whole, a budget of body bytes being read at once (global and per client, reserved from `Content-Length` before
//! the body is read), a cap on open connections per client, and the bounded pool unpaid preflights run on.
//!
//! A request is *paid* when it carries an L402 credential that verifies (signature, preimage, expiry, revocation;
//! not yet the request binding, which needs the body). Paid requests are never counted in the buckets, may use the
//! whole body budget while unpaid requests leave a share of it free, and never wait for the preflight pool.
//!
//! The preflight pool gives way to paid work rather than partitioning the machine: with no paid work in progress
//! (a paid request being parsed or redeemed, a generation) unpaid checks may run on every core; while some is,
//! new unpaid checks are admitted only up to `preflight_workers`, so that paid work finds the rest of the cores
//! free within the few milliseconds an unpaid check takes.
//!
//! The client is the socket's peer, or with `trusted_proxy_hops = N` the N-th address from the right of
//! `X-Forwarded-For`. IPv6 clients are keyed by their /64, the block one subscriber usually holds.
//!
//! The buckets are a small hand-written token bucket per client in a `Mutex<HashMap>` rather than `governor`: the
//! keyed `governor` limiter brings `dashmap`, `quanta` and a few more crates, its `Retry-After` needs a clock
//! conversion, and eviction is the caller's job anyway; the table here is bounded and evicts what has refilled.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mesh402_api::ErrorCode;
use mesh402_service::PaidWork;
use tokio::sync::Notify;

use crate::AppState;
use crate::config::TrafficLimits;
use crate::error::ApiError;

/// Clients tracked by one bucket table before those that have refilled are dropped.
const MAX_TRACKED_CLIENTS: usize = 100_000;

/// How long an unpaid request waits for a place on the preflight pool before it gets `503 server_busy`.
const PREFLIGHT_QUEUE_WAIT: Duration = Duration::from_secs(10);

/// How long a rate-limited request waits for its `429` (at most until its next token). A client that ignores
/// `Retry-After` and reconnects at once would otherwise make the server accept, and its kernel buffer, hundreds of
/// bodies a second; held for this long, its connections (capped per client) slow it down instead.
const TARPIT: Duration = Duration::from_secs(1);

/// `Retry-After` of a `503` for a full upload budget or preflight pool.
const BUSY_RETRY_AFTER_SECS: u64 = 2;

/// A client, as limits count it: an IPv4 address or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The key of an address (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn of(address: IpAddr) -> ClientKey {
        match address {
            IpAddr::V4(v4) => ClientKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    ClientKey(IpAddr::V6(Ipv6Addr::from(prefix)))
                }
            },
        }
    }

    /// The client when the peer's address is not known (a router driven without a socket, as in some tests).
    pub fn unknown() -> ClientKey {
        ClientKey(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }
}

/// The client's address: the socket's peer, or with `hops` trusted proxies the address the outermost of them saw
/// (the `hops`-th entry from the right of `X-Forwarded-For`; the leftmost when the header has fewer).
pub fn client_address(peer: Option<SocketAddr>, headers: &HeaderMap, hops: u8) -> Option<IpAddr> {
    if hops > 0 {
        let entries: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
            .collect();
        if !entries.is_empty() {
            return Some(entries[entries.len().saturating_sub(usize::from(hops))]);
        }
    }
    peer.map(|peer| peer.ip())
}

/// Who sent a request, as [`admit`] found out; in the request's extensions for handlers.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// The client.
    pub client: ClientKey,
    /// The request carries a credential that verifies.
    pub paid: bool,
    /// Why the credential the request carries does not verify (the verifier's code, and the problem type the
    /// `Payment` scheme answers it with), if it carries one.
    pub rejected_credential: Option<(&'static str, mesh402_mpp::Problem)>,
}

/// A token bucket per client: `per_minute` tokens a minute, at most `burst` at once; 0 per minute means no limit.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<ClientKey, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    /// A limiter of `per_minute` requests a minute and `burst` at once.
    pub fn new(per_minute: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_second: f64::from(per_minute) / 60.0,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `client`, or says how long until one is there.
    pub fn take(&self, client: ClientKey, now: Instant) -> Result<(), Duration> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let mut buckets = lock(&self.buckets);
        if buckets.len() >= MAX_TRACKED_CLIENTS && !buckets.contains_key(&client) {
            // Buckets that have refilled are the same as new ones: drop them. If most clients are still limited,
            // start over rather than scan the table on every new client.
            buckets.retain(|_, bucket| self.refilled(bucket, now) < self.burst);
            if buckets.len() >= MAX_TRACKED_CLIENTS / 2 {
                buckets.clear();
            }
        }
        let bucket = buckets.entry(client).or_insert(Bucket { tokens: self.burst, updated: now });
        bucket.tokens = self.refilled(bucket, now);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.per_second))
        }
    }

    fn refilled(&self, bucket: &Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        (bucket.tokens + elapsed * self.per_second).min(self.burst)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `429 rate_limited` with the wait until the next token, after the tarpit's pause.
async fn rate_limited(wait: Duration, what: &str) -> ApiError {
    tokio::time::sleep(TARPIT.min(wait)).await;
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    ApiError::new(ErrorCode::RateLimited, format!("Too many {what} from your address; try again in {seconds} s."))
        .retry_after(seconds)
}

/// Bytes of request bodies being read at once: all of `total` for paid requests; for unpaid ones `total` less the
/// share kept for paid requests, and at most `per_client` per client.
#[derive(Debug)]
pub struct UploadBudget {
    total: usize,
    unpaid_total: usize,
    per_client: usize,
    state: Mutex<UploadState>,
}

#[derive(Debug, Default)]
struct UploadState {
    used: usize,
    by_client: HashMap<ClientKey, usize>,
}

/// Bytes reserved for one body; given back when dropped.
#[derive(Debug)]
pub struct UploadReservation {
    budget: Arc<UploadBudget>,
    client: Option<ClientKey>,
    bytes: usize,
}

impl UploadBudget {
    /// A budget of `total` bytes, of which unpaid requests leave a quarter (at least `max_body_bytes`) free, and
    /// `per_client` bytes per client.
    pub fn new(total: usize, per_client: usize, max_body_bytes: usize) -> UploadBudget {
        let kept_for_paid = (total / 4).max(max_body_bytes);
        UploadBudget {
            total,
            unpaid_total: total.saturating_sub(kept_for_paid),
            per_client,
            state: Mutex::new(UploadState::default()),
        }
    }

    /// Reserves `bytes` for a body, or says why not (`503` before the body is read).
    pub fn reserve(
        self: &Arc<Self>,
        client: ClientKey,
        bytes: usize,
        paid: bool,
    ) -> Result<UploadReservation, ApiError> {
        let mut state = lock(&self.state);
        let of_client = state.by_client.get(&client).copied().unwrap_or(0);
        if !paid && of_client.saturating_add(bytes) > self.per_client {
            return Err(ApiError::new(
                ErrorCode::TooManyUploads,
                "Your address is already sending as many uploads as it may at once; finish those first.",
            )
            .retry_after(BUSY_RETRY_AFTER_SECS));
        }
        let limit = if paid { self.total } else { self.unpaid_total };
        if state.used.saturating_add(bytes) > limit {
            return Err(ApiError::new(
                ErrorCode::ServerBusy,
                "The server is receiving as many uploads as it takes at once; try again shortly.",
            )
            .retry_after(BUSY_RETRY_AFTER_SECS));
        }
        if !paid {
            *state.by_client.entry(client).or_insert(0) += bytes;
        }
        state.used += bytes;
        Ok(UploadReservation { budget: self.clone(), client: (!paid).then_some(client), bytes })
    }

    /// Bytes reserved now.
    pub fn used(&self) -> usize {
        lock(&self.state).used
    }
}

impl Drop for UploadReservation {
    fn drop(&mut self) {
        let mut state = lock(&self.budget.state);
        state.used = state.used.saturating_sub(self.bytes);
        if let Some(client) = self.client
            && let Some(of_client) = state.by_client.get_mut(&client)
        {
            *of_client = of_client.saturating_sub(self.bytes);
            if *of_client == 0 {
                state.by_client.remove(&client);
            }
        }
    }
}

/// Open connections per client.
#[derive(Debug)]
pub struct ConnectionCounts {
    max: usize,
    open: Mutex<HashMap<ClientKey, usize>>,
}

/// One open connection; counted until dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    counts: Arc<ConnectionCounts>,
    client: ClientKey,
}

impl ConnectionCounts {
    /// At most `max` connections per client.
    pub fn new(max: usize) -> ConnectionCounts {
        ConnectionCounts { max, open: Mutex::new(HashMap::new()) }
    }

    /// A slot for a new connection of `client`, unless it has `max` open.
    pub fn open(self: &Arc<Self>, client: ClientKey) -> Option<ConnectionSlot> {
        let mut open = lock(&self.open);
        let count = open.entry(client).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(ConnectionSlot { counts: self.clone(), client })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.counts.open);
        if let Some(count) = open.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.client);
            }
        }
    }
}

/// Every limit on unpaid traffic, shared by the handlers and the connection loop.
#[derive(Debug)]
pub struct Limits {
    /// The settings.
    pub settings: TrafficLimits,
    /// The body size limit.
    pub max_body_bytes: usize,
    challenges: RateLimiter,
    unpaid: RateLimiter,
    /// Bytes of bodies being read.
    pub uploads: Arc<UploadBudget>,
    /// Open connections per client.
    pub connections: Arc<ConnectionCounts>,
    preflights: PreflightPool,
}

impl Limits {
    /// The limits these settings describe; unpaid checks yield to `paid_work`.
    pub fn new(settings: TrafficLimits, max_body_bytes: usize, paid_work: PaidWork) -> Limits {
        Limits {
            challenges: RateLimiter::new(settings.challenges_per_minute, settings.challenge_burst),
            unpaid: RateLimiter::new(settings.unpaid_requests_per_minute, settings.unpaid_burst),
            uploads: Arc::new(UploadBudget::new(
                settings.max_inflight_body_bytes,
                settings.max_inflight_body_bytes_per_client,
                max_body_bytes,
            )),
            connections: Arc::new(ConnectionCounts::new(settings.max_connections_per_client)),
            preflights: PreflightPool::new(settings.preflight_workers, paid_work),
            max_body_bytes,
            settings,
        }
    }

    /// Takes a challenge token for `client`, or `429 rate_limited` (after the tarpit's pause).
    pub async fn take_challenge(&self, client: ClientKey) -> Result<(), ApiError> {
        match self.challenges.take(client, Instant::now()) {
            Ok(()) => Ok(()),
            Err(wait) => Err(rate_limited(wait, "unpaid model requests").await),
        }
    }

    /// Runs `work` on the preflight pool: as many at once as the machine has cores while no paid work is in
    /// progress, at most `preflight_workers` while some is; each waits at most a few seconds for its turn (then
    /// `503 server_busy`). Paid work never goes through here.
    pub async fn on_preflight_pool<T>(&self, work: impl Future<Output = T>) -> Result<T, ApiError> {
        let Some(_permit) = self.preflights.enter(PREFLIGHT_QUEUE_WAIT).await else {
            return Err(ApiError::new(
                ErrorCode::ServerBusy,
                "The server is checking as many unpaid requests as it can; try again shortly.",
            )
            .retry_after(BUSY_RETRY_AFTER_SECS));
        };
        Ok(work.await)
    }
}

/// Admission to unpaid checks, yielding to paid work (see the module's documentation). A counter and two wake-ups
/// rather than a semaphore: the number of places changes with the paid work in progress, and a semaphore's
/// permits cannot be taken back from waiters already queued.
#[derive(Debug)]
struct PreflightPool {
    running: AtomicUsize,
    /// Places while no paid work is in progress: one per core (or `busy`, if larger).
    idle: usize,
    /// Places while paid work is in progress.
    busy: usize,
    paid_work: PaidWork,
    /// Woken when a place is given back.
    released: Notify,
}

/// A place on the preflight pool, given back when dropped.
struct PreflightPermit<'a>(&'a PreflightPool);

impl Drop for PreflightPermit<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
        self.0.released.notify_one();
    }
}

impl PreflightPool {
    fn new(busy: usize, paid_work: PaidWork) -> PreflightPool {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        PreflightPool::with_places(cores.max(busy), busy, paid_work)
    }

    fn with_places(idle: usize, busy: usize, paid_work: PaidWork) -> PreflightPool {
        PreflightPool { running: AtomicUsize::new(0), idle, busy, paid_work, released: Notify::new() }
    }

    /// Takes a place if one is free under the cap of the moment.
    fn try_enter(&self) -> Option<PreflightPermit<'_>> {
        let cap = if self.paid_work.is_running() { self.busy } else { self.idle };
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |running| (running < cap).then_some(running + 1))
            .ok()
            .map(|_| PreflightPermit(self))
    }

    /// Waits at most `patience` for a place: woken when one is given back or when paid work ends.
    async fn enter(&self, patience: Duration) -> Option<PreflightPermit<'_>> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let released = self.released.notified();
            let idle = self.paid_work.idle();
            tokio::pin!(released, idle);
            released.as_mut().enable();
            idle.as_mut().enable();
            if let Some(permit) = self.try_enter() {
                return Some(permit);
            }
            tokio::select! {
                () = released => {}
                () = idle => {}
                () = tokio::time::sleep_until(deadline) => return None,
            }
        }
    }
}

/// Middleware on every route: finds the client and whether the request is paid, counts unpaid requests (but
/// `/healthz`) in the client's bucket (`429 rate_limited` when it is empty), and leaves a [`Caller`] for handlers.
pub async fn admit(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    let limits = &state.limits;
    let client = client_address(peer, request.headers(), limits.settings.trusted_proxy_hops)
        .map_or_else(ClientKey::unknown, ClientKey::of);
    let checked = crate::gate::quiet_credential(request.headers()).map(|credential| {
        state.service.verify(&credential, None).map(|_| ()).map_err(|reason| (reason.code(), reason.problem()))
    });
    let paid = matches!(checked, Some(Ok(())));
    let rejected_credential = checked.and_then(Result::err);
    if !paid
        && request.uri().path() != "/healthz"
        && let Err(wait) = limits.unpaid.take(client, Instant::now())
    {
        return rate_limited(wait, "requests without a credential").await.into_response();
    }
    request.extensions_mut().insert(Caller { client, paid, rejected_credential });
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn key(text: &str) -> ClientKey {
        ClientKey::of(text.parse().unwrap())
    }

    #[tokio::test]
    async fn unpaid_checks_use_every_place_while_nothing_paid_runs_and_give_way_when_something_does() {
        let paid_work = PaidWork::new();
        let pool = Arc::new(PreflightPool::with_places(3, 1, paid_work.clone()));
        let idle: Vec<_> = (0..3).map(|_| pool.try_enter().expect("a place while nothing paid runs")).collect();
        assert!(pool.try_enter().is_none(), "three places in all");
        drop(idle);
        let paid = paid_work.start();
        let first = pool.try_enter().expect("one place while paid work runs");
        assert!(pool.try_enter().is_none(), "only one while paid work runs");
        drop(first);
        let held = pool.try_enter().expect("the place given back");
        // A waiter is let in when the paid work ends, not only when a place is given back.
        let waiter = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.enter(Duration::from_secs(60)).await.is_some() })
        };
        tokio::task::yield_now().await;
        drop(paid);
        assert!(waiter.await.unwrap(), "let in once the paid work ended");
        drop(held);
        // A waiter that finds no place within its patience is refused.
        let paid = paid_work.start();
        let _held = pool.try_enter().expect("a place");
        assert!(pool.enter(Duration::from_millis(20)).await.is_none());
        drop(paid);
    }

    #[test]
    fn a_bucket_empties_refills_and_says_how_long_to_wait() {
        let limiter = RateLimiter::new(60, 3);
        let start = Instant::now();
        let client = key("192.0.2.1");
        for _ in 0..3 {
            limiter.take(client, start).unwrap();
        }
        let wait = limiter.take(client, start).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1), "{wait:?}");
        limiter.take(key("192.0.2.2"), start).expect("another client has its own bucket");
        limiter.take(client, start + Duration::from_secs(1)).expect("one token a second");
        assert!(
            RateLimiter::new(0, 1).take(client, start).is_ok() && RateLimiter::new(0, 1).take(client, start).is_ok()
        );
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
    }

    #[test]
    fn forwarded_for_is_read_only_for_trusted_hops() {
        let peer: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", HeaderValue::from_static("203.0.113.9, 198.51.100.2"));
        headers.append("x-forwarded-for", HeaderValue::from_static("192.0.2.4"));
        let at = |hops| client_address(Some(peer), &headers, hops).unwrap().to_string();
        assert_eq!(at(0), "10.0.0.1", "without trusted proxies the header is ignored");
        assert_eq!(at(1), "192.0.2.4");
        assert_eq!(at(2), "198.51.100.2");
        assert_eq!(at(5), "203.0.113.9");
        assert_eq!(client_address(Some(peer), &HeaderMap::new(), 1).unwrap().to_string(), "10.0.0.1");
    }

    #[test]
    fn uploads_leave_room_for_paid_requests_and_give_bytes_back() {
        let budget = Arc::new(UploadBudget::new(400, 200, 50));
        let (a, b) = (key("192.0.2.1"), key("192.0.2.2"));
        let first = budget.reserve(a, 150, false).unwrap();
        assert_eq!(budget.reserve(a, 100, false).unwrap_err().code, ErrorCode::TooManyUploads);
        let second = budget.reserve(b, 150, false).unwrap();
        assert_eq!(
            budget.reserve(key("192.0.2.3"), 10, false).unwrap_err().code,
            ErrorCode::ServerBusy,
            "300 of 400 is unpaid"
        );
        let paid = budget.reserve(a, 100, true).expect("the paid share");
        assert_eq!(budget.used(), 400);
        drop((first, second, paid));
        assert_eq!(budget.used(), 0);
        budget.reserve(a, 200, false).expect("all given back");
    }

    #[test]
    fn connections_are_counted_per_client() {
        let counts = Arc::new(ConnectionCounts::new(2));
        let client = key("192.0.2.1");
        let (one, _two) = (counts.open(client).unwrap(), counts.open(client).unwrap());
        assert!(counts.open(client).is_none());
        assert!(counts.open(key("192.0.2.2")).is_some());
        drop(one);
        assert!(counts.open(client).is_some());
    }
}
