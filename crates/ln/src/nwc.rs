//! Nostr Wallet Connect (NIP-47): `make_invoice` and `lookup_invoice` sent to a wallet service through a relay
//! (the server's side, [`LightningBackend`]), and `pay_invoice` (the buyer's side, [`InvoicePayer`]).
//!
//! The connection string (`nostr+walletconnect://<wallet pubkey>?relay=…&secret=…`) names the wallet, its relays
//! and the secret this client signs and encrypts with. Each call opens a WebSocket to a relay (the first that
//! answers, in the string's order), subscribes to responses that reference its request, publishes the encrypted
//! request (kind 23194) and waits for the wallet's signed, encrypted response (kind 23195), all within one deadline.
//! A connection per call is slower than a kept one but has no state to go stale; invoices are made once per unpaid
//! request.
//!
//! Encryption as NIP-47 has it now: NIP-44 v2, with an `encryption` tag on the request; the deprecated NIP-04 only
//! for a wallet whose info event (kind 13194, read once on the first call) has no `encryption` tag or lists only
//! `nip04`. Responses are read in whichever of the two they come. Every error code a wallet sends is read, also
//! those the `nostr` crate does not know (`UNSUPPORTED_ENCRYPTION`, `BAD_REQUEST`, `EXPIRED`, …): as a definite
//! refusal, so that a refused refund is not taken for an unknown outcome.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::{SinkExt, StreamExt};
use mesh402_l402::{PaymentHash, Preimage};
use nostr::nips::nip47::{
    ErrorCode, LookupInvoiceRequest, MakeInvoiceRequest, NIP47Error, NostrWalletConnectURI, PayInvoiceRequest, Request,
    Response, TransactionState,
};
use nostr::nips::{nip04, nip44};
use nostr::{
    ClientMessage, Event, EventBuilder, Filter, JsonUtil, Keys, Kind, RelayMessage, SubscriptionId, Tag, TagKind,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::Message;

use crate::http::{self, Secret};
use crate::pay::InvoicePayer;
use crate::{CreatedInvoice, InvoiceRequest, InvoiceState, LightningBackend, LnError, unix_now};

/// How to reach a wallet over Nostr Wallet Connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NwcSettings {
    /// The `nostr+walletconnect://` connection string; it holds a secret.
    pub uri: Secret,
    /// The deadline of every call (connect, publish, answer).
    pub timeout: Duration,
}

/// How requests to a wallet are encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encryption {
    /// NIP-44 v2 (what NIP-47 requires now).
    Nip44,
    /// NIP-04 (deprecated; only for wallets that say they speak nothing else).
    Nip04,
}

impl Encryption {
    /// From the wallet's info event: NIP-44 v2 when its `encryption` tag lists `nip44_v2`; NIP-04 when the tag is
    /// absent (NIP-47: such a wallet speaks NIP-04 only) or lists only `nip04`; NIP-44 v2 when the wallet publishes
    /// no info event at all.
    fn from_info(info: Option<&Event>) -> Encryption {
        let Some(info) = info else {
            return Encryption::Nip44;
        };
        let listed: Vec<&str> = info
            .tags
            .iter()
            .filter(|tag| tag.kind() == TagKind::custom("encryption"))
            .flat_map(|tag| tag.as_slice().iter().skip(1).flat_map(|value| value.split_whitespace()))
            .collect();
        if listed.contains(&"nip44_v2") { Encryption::Nip44 } else { Encryption::Nip04 }
    }
}

/// A Nostr Wallet Connect wallet as a [`LightningBackend`].
pub struct Nwc {
    uri: NostrWalletConnectURI,
    relays: Vec<String>,
    timeout: Duration,
    /// The wallet's encryption, once its info event has been read.
    encryption: std::sync::Mutex<Option<Encryption>>,
}

impl std::fmt::Debug for Nwc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nwc")
            .field("wallet", &self.uri.public_key.to_hex())
            .field("relays", &self.relays)
            .field("secret", &"***")
            .finish()
    }
}

/// Any byte stream a WebSocket can run over (plain TCP, or TLS).
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

impl Nwc {
    /// Parses the connection string (no connection is made yet).
    pub fn new(settings: NwcSettings) -> Result<Nwc, LnError> {
        let uri = NostrWalletConnectURI::parse(settings.uri.expose())
            .map_err(|_| LnError::Rejected("nwc_uri is not a valid nostr+walletconnect:// connection string".into()))?;
        let relays: Vec<String> = uri.relays.iter().map(|relay| relay.to_string()).collect();
        if relays.is_empty() {
            return Err(LnError::Rejected("nwc_uri names no relay".into()));
        }
        if let Some(relay) = relays.iter().find(|relay| !(relay.starts_with("wss://") || relay.starts_with("ws://"))) {
            return Err(LnError::Rejected(format!("nwc_uri: relay {relay:?} must be ws:// or wss://")));
        }
        http::install_crypto_provider();
        Ok(Nwc { uri, relays, timeout: settings.timeout, encryption: std::sync::Mutex::new(None) })
    }

    /// Sends `request` and returns the wallet's response, within the deadline: through the first relay of the
    /// connection string that can be reached (a relay that accepted the request but gave no answer is not tried
    /// again with it, so that a payment is never sent twice).
    async fn call(&self, request: Request) -> Result<Response, LnError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut last = None;
        for relay in &self.relays {
            let attempt = tokio::time::timeout_at(deadline, self.exchange(relay, request.clone())).await;
            match attempt {
                Ok(Err(Exchange::Unreachable(error))) => last = Some(error),
                Ok(Err(Exchange::Failed(error))) => return Err(error),
                Ok(Ok(response)) => return Ok(response),
                Err(_) => {
                    return Err(LnError::Unavailable(format!("no answer through {relay} in {:?}", self.timeout)));
                }
            }
        }
        Err(last.unwrap_or_else(|| LnError::Unavailable("no relay could be reached".into())))
    }

    async fn connect(&self, relay: &str) -> Result<Box<dyn Stream>, LnError> {
        let unavailable = |error: &dyn std::fmt::Display| LnError::Unavailable(format!("relay {relay}: {error}"));
        let url = url::Url::parse(relay).map_err(|error| unavailable(&error))?;
        let secure = url.scheme() == "wss";
        let host = url.host_str().ok_or_else(|| unavailable(&"no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = url.port_or_known_default().ok_or_else(|| unavailable(&"no port"))?;
        let tcp = tokio::net::TcpStream::connect((host, port)).await.map_err(|error| unavailable(&error))?;
        // Small messages back to back (subscribe, then publish): without this, Nagle and delayed ACKs add ~40 ms.
        let _ = tcp.set_nodelay(true);
        if !secure {
            return Ok(Box::new(tcp));
        }
        use rustls_platform_verifier::BuilderVerifierExt;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|builder| builder.with_platform_verifier())
            .map_err(|error| unavailable(&error))?
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|error| unavailable(&error))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|error| unavailable(&error))?;
        Ok(Box::new(tls))
    }

    /// The request as an event, encrypted as the wallet reads it.
    fn request_event(&self, request: &Request, encryption: Encryption) -> Result<Event, LnError> {
        let build =
            |error: &dyn std::fmt::Display| LnError::Rejected(format!("cannot build the NIP-47 request: {error}"));
        let json = request.as_json();
        let (content, tags) = match encryption {
            Encryption::Nip44 => (
                nip44::encrypt(&self.uri.secret, &self.uri.public_key, json, nip44::Version::V2)
                    .map_err(|error| build(&error))?,
                vec![Tag::public_key(self.uri.public_key), Tag::custom(TagKind::custom("encryption"), ["nip44_v2"])],
            ),
            Encryption::Nip04 => (
                nip04::encrypt(&self.uri.secret, &self.uri.public_key, json).map_err(|error| build(&error))?,
                vec![Tag::public_key(self.uri.public_key)],
            ),
        };
        EventBuilder::new(Kind::WalletConnectRequest, content)
            .tags(tags)
            .sign_with_keys(&Keys::new(self.uri.secret.clone()))
            .map_err(|error| build(&error))
    }

    /// The response in `event`, decrypted with whichever of NIP-44 and NIP-04 it is in (a NIP-04 payload carries
    /// `?iv=`), with every error code read.
    fn read_response(&self, event: &Event) -> Result<Response, LnError> {
        let unreadable =
            |error: &dyn std::fmt::Display| LnError::BadResponse(format!("unreadable NIP-47 response: {error}"));
        let plain = if event.content.contains("?iv=") {
            nip04::decrypt(&self.uri.secret, &event.pubkey, &event.content).map_err(|error| unreadable(&error))?
        } else {
            nip44::decrypt(&self.uri.secret, &event.pubkey, &event.content).map_err(|error| unreadable(&error))?
        };
        let value: serde_json::Value = serde_json::from_str(&plain).map_err(|error| unreadable(&error))?;
        if let Some(error) = value.get("error").filter(|error| !error.is_null()) {
            let code = error.get("code").and_then(|code| code.as_str()).unwrap_or("");
            let message = error.get("message").and_then(|message| message.as_str()).unwrap_or("").to_owned();
            if serde_json::from_value::<ErrorCode>(serde_json::Value::from(code)).is_err() {
                return Err(unknown_wallet_error(code, &message));
            }
        }
        Response::from_json(&plain).map_err(|error| unreadable(&error))
    }

    /// Reads the wallet's info event on an open socket (a subscription that ends at the relay's end of stored
    /// events).
    async fn wallet_info<S>(&self, socket: &mut S, relay: &str) -> Result<Option<Event>, Exchange>
    where
        S: futures_util::Sink<Message>
            + futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
            + Unpin,
        <S as futures_util::Sink<Message>>::Error: std::fmt::Display,
    {
        let unreachable = |error: &dyn std::fmt::Display| {
            Exchange::Unreachable(LnError::Unavailable(format!("relay {relay}: {error}")))
        };
        let subscription = SubscriptionId::generate();
        let filter = Filter::new().kind(Kind::WalletConnectInfo).author(self.uri.public_key).limit(1);
        socket
            .send(Message::text(ClientMessage::req(subscription.clone(), vec![filter]).as_json()))
            .await
            .map_err(|error| unreachable(&error))?;
        let mut info = None;
        while let Some(message) = socket.next().await {
            let text = match message.map_err(|error| unreachable(&error))? {
                Message::Text(text) => text,
                Message::Close(_) => break,
                _ => continue,
            };
            match RelayMessage::from_json(text.as_str()) {
                Ok(RelayMessage::Event { subscription_id, event })
                    if *subscription_id == subscription
                        && event.verify().is_ok()
                        && event.pubkey == self.uri.public_key =>
                {
                    info = Some(event.into_owned());
                }
                Ok(RelayMessage::EndOfStoredEvents(subscription_id)) if *subscription_id == subscription => break,
                Ok(RelayMessage::Closed { subscription_id, .. }) if *subscription_id == subscription => break,
                _ => {}
            }
        }
        let _ = socket.send(Message::text(ClientMessage::close(subscription).as_json())).await;
        Ok(info)
    }

    async fn exchange(&self, relay: &str, request: Request) -> Result<Response, Exchange> {
        let unreachable = |error: &dyn std::fmt::Display| {
            Exchange::Unreachable(LnError::Unavailable(format!("relay {relay}: {error}")))
        };
        let stream = self.connect(relay).await.map_err(Exchange::Unreachable)?;
        let (mut socket, _) =
            tokio_tungstenite::client_async(relay, stream).await.map_err(|error| unreachable(&error))?;
        let known = *self.encryption.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let encryption = match known {
            Some(encryption) => encryption,
            None => {
                let encryption = Encryption::from_info(self.wallet_info(&mut socket, relay).await?.as_ref());
                *self.encryption.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(encryption);
                encryption
            }
        };
        let event = self.request_event(&request, encryption).map_err(Exchange::Failed)?;
        let subscription = SubscriptionId::generate();
        let filter = Filter::new()
            .kind(Kind::WalletConnectResponse)
            .author(self.uri.public_key)
            .pubkey(event.pubkey)
            .event(event.id);
        let request_id = event.id;
        // From here on the wallet may act on the request: no other relay is tried with it.
        let failed =
            |error: &dyn std::fmt::Display| Exchange::Failed(LnError::Unavailable(format!("relay {relay}: {error}")));
        for message in [ClientMessage::req(subscription.clone(), vec![filter]), ClientMessage::event(event)] {
            socket.send(Message::text(message.as_json())).await.map_err(|error| failed(&error))?;
        }
        while let Some(message) = socket.next().await {
            let text = match message.map_err(|error| failed(&error))? {
                Message::Text(text) => text,
                Message::Close(_) => break,
                _ => continue,
            };
            let Ok(message) = RelayMessage::from_json(text.as_str()) else { continue };
            match message {
                RelayMessage::Ok { event_id, status: false, message } if event_id == request_id => {
                    return Err(Exchange::Failed(LnError::Unavailable(format!(
                        "the relay refused the request: {message}"
                    ))));
                }
                RelayMessage::Event { subscription_id, event } if *subscription_id == subscription => {
                    if event.verify().is_err()
                        || event.pubkey != self.uri.public_key
                        || !event.tags.event_ids().any(|id| *id == request_id)
                    {
                        continue;
                    }
                    let response = self.read_response(&event).map_err(Exchange::Failed)?;
                    let _ = socket.close(None).await;
                    return Ok(response);
                }
                RelayMessage::Closed { subscription_id, message } if *subscription_id == subscription => {
                    return Err(Exchange::Failed(LnError::Unavailable(format!(
                        "the relay closed the subscription: {message}"
                    ))));
                }
                _ => {}
            }
        }
        Err(Exchange::Failed(LnError::Unavailable(format!(
            "relay {relay} closed the connection before the wallet answered"
        ))))
    }
}

/// How one relay's exchange ended without a response.
enum Exchange {
    /// The relay could not be reached or refused the connection before the request was sent: another may be tried.
    Unreachable(LnError),
    /// The request was sent (or could not be built): the outcome is final for this call.
    Failed(LnError),
}

/// A wallet's error whose code the `nostr` crate does not know: a definite refusal, with what NIP-47 says of it.
fn unknown_wallet_error(code: &str, message: &str) -> LnError {
    match code {
        "UNSUPPORTED_ENCRYPTION" => LnError::Rejected(format!(
            "the wallet does not read this encryption (UNSUPPORTED_ENCRYPTION: {message}); it may need NIP-44 v2 \
             or announce its encryption in its info event"
        )),
        _ => LnError::Rejected(format!("the wallet refused: {code}: {message}")),
    }
}

/// Maps a wallet's NIP-47 error to ours.
fn wallet_error(error: NIP47Error) -> LnError {
    match error.code {
        ErrorCode::Unauthorized | ErrorCode::Restricted => LnError::Unauthorized,
        ErrorCode::NotFound => LnError::NotFound,
        ErrorCode::RateLimited | ErrorCode::Internal => LnError::Unavailable(error.message),
        _ => LnError::Rejected(format!("{error}")),
    }
}

fn response_result<T>(
    response: Response,
    convert: impl FnOnce(Response) -> Result<T, nostr::nips::nip47::Error>,
) -> Result<T, LnError> {
    if let Some(error) = response.error.clone() {
        return Err(wallet_error(error));
    }
    convert(response).map_err(|error| LnError::BadResponse(format!("unexpected NIP-47 result: {error}")))
}

#[async_trait]
impl LightningBackend for Nwc {
    fn name(&self) -> &'static str {
        "nwc"
    }

    async fn create_invoice(&self, request: &InvoiceRequest) -> Result<CreatedInvoice, LnError> {
        if request.amount.0 == 0 {
            return Err(LnError::Rejected("amountless invoices are not issued".into()));
        }
        let call = Request::make_invoice(MakeInvoiceRequest {
            amount: request.amount.0,
            description: Some(request.description.clone()),
            description_hash: None,
            expiry: Some(request.expiry.as_secs()),
        });
        let made = response_result(self.call(call).await?, Response::to_make_invoice)?;
        let reported = match made.payment_hash.as_deref() {
            Some(hash) => Some(
                hash.parse::<PaymentHash>()
                    .map_err(|_| LnError::BadResponse("the wallet returned a malformed payment hash".into()))?,
            ),
            None => None,
        };
        http::check_invoice(&made.invoice, request, reported.as_ref())
    }

    async fn lookup_invoice(&self, payment_hash: &PaymentHash) -> Result<InvoiceState, LnError> {
        let call = Request::lookup_invoice(LookupInvoiceRequest {
            payment_hash: Some(payment_hash.to_string()),
            invoice: None,
        });
        let found = response_result(self.call(call).await?, Response::to_lookup_invoice)?;
        let settled = match found.state {
            Some(TransactionState::Settled) => true,
            Some(TransactionState::Expired) => return Ok(InvoiceState::Expired),
            Some(TransactionState::Failed) => return Ok(InvoiceState::Canceled),
            Some(TransactionState::Pending) => false,
            // Wallets that predate `state` report settlement by its time.
            None => found.settled_at.is_some(),
        };
        if settled {
            let preimage = found
                .preimage
                .and_then(|text| text.parse::<Preimage>().ok())
                .filter(|preimage| preimage.hash() == *payment_hash);
            return Ok(InvoiceState::Settled { preimage });
        }
        match found.expires_at {
            Some(expires_at) if expires_at.as_secs() <= unix_now() => Ok(InvoiceState::Expired),
            _ => Ok(InvoiceState::Open),
        }
    }
}

/// The same wallet as the buyer's payer: `pay_invoice` returns the preimage; a payment already made is found again
/// with `lookup_invoice` by its payment hash (NIP-47 looks up outgoing payments too). The wallet service is trusted
/// with the amount only as far as the buyer's client checked the invoice before calling `pay`.
#[async_trait]
impl InvoicePayer for Nwc {
    fn name(&self) -> &'static str {
        "nwc"
    }

    async fn pay(&self, bolt11: &str) -> Result<Preimage, LnError> {
        let call = Request::pay_invoice(PayInvoiceRequest::new(bolt11));
        let paid = response_result(self.call(call).await?, Response::to_pay_invoice)?;
        paid.preimage
            .parse::<Preimage>()
            .map_err(|_| LnError::BadResponse("the wallet returned a preimage that is not 64 hex digits".into()))
    }

    async fn paid_preimage(&self, payment_hash: &PaymentHash) -> Result<Option<Preimage>, LnError> {
        let call = Request::lookup_invoice(LookupInvoiceRequest {
            payment_hash: Some(payment_hash.to_string()),
            invoice: None,
        });
        let found = match response_result(self.call(call).await?, Response::to_lookup_invoice) {
            Ok(found) => found,
            Err(LnError::NotFound) => return Ok(None),
            Err(error) => return Err(error),
        };
        let settled = match found.state {
            Some(state) => state == TransactionState::Settled,
            None => found.settled_at.is_some(),
        };
        Ok(found
            .preimage
            .filter(|_| settled)
            .and_then(|text| text.parse::<Preimage>().ok())
            .filter(|preimage| preimage.hash() == *payment_hash))
    }
}
