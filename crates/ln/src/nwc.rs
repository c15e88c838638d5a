//! Nostr Wallet Connect (NIP-47): `make_invoice` and `lookup_invoice` sent to a wallet service through a relay
//! (the server's side, [`LightningBackend`]), and `pay_invoice` (the buyer's side, [`InvoicePayer`]).
//!
//! The connection string (`nostr+walletconnect://<wallet pubkey>?relay=…&secret=…`) names the wallet, its relay
//! and the secret this client signs and encrypts with. Each call opens a WebSocket to the relay, subscribes to
//! responses that reference its request, publishes the NIP-04-encrypted request (kind 23194) and waits for the
//! wallet's signed, encrypted response (kind 23195), all within one deadline. A connection per call is slower than
//! a kept one but has no state to go stale; invoices are made once per unpaid request.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::{SinkExt, StreamExt};
use mesh402_l402::{PaymentHash, Preimage};
use nostr::nips::nip47::{
    ErrorCode, LookupInvoiceRequest, MakeInvoiceRequest, NIP47Error, NostrWalletConnectURI, PayInvoiceRequest, Request,
    Response, TransactionState,
};
use nostr::{ClientMessage, Filter, JsonUtil, Kind, RelayMessage, SubscriptionId};
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

/// A Nostr Wallet Connect wallet as a [`LightningBackend`].
pub struct Nwc {
    uri: NostrWalletConnectURI,
    relay: String,
    timeout: Duration,
}

impl std::fmt::Debug for Nwc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nwc")
            .field("wallet", &self.uri.public_key.to_hex())
            .field("relay", &self.relay)
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
        let relay = uri
            .relays
            .first()
            .map(|relay| relay.to_string())
            .ok_or_else(|| LnError::Rejected("nwc_uri names no relay".into()))?;
        if !(relay.starts_with("wss://") || relay.starts_with("ws://")) {
            return Err(LnError::Rejected(format!("nwc_uri: relay {relay:?} must be ws:// or wss://")));
        }
        http::install_crypto_provider();
        Ok(Nwc { uri, relay, timeout: settings.timeout })
    }

    /// Sends `request` and returns the wallet's response, within the deadline.
    async fn call(&self, request: Request) -> Result<Response, LnError> {
        match tokio::time::timeout(self.timeout, self.exchange(request)).await {
            Ok(result) => result,
            Err(_) => Err(LnError::Unavailable(format!("no answer through {} in {:?}", self.relay, self.timeout))),
        }
    }

    async fn connect(&self) -> Result<Box<dyn Stream>, LnError> {
        let unavailable =
            |error: &dyn std::fmt::Display| LnError::Unavailable(format!("relay {}: {error}", self.relay));
        let url = url::Url::parse(&self.relay).map_err(|error| unavailable(&error))?;
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

    async fn exchange(&self, request: Request) -> Result<Response, LnError> {
        let unavailable =
            |error: &dyn std::fmt::Display| LnError::Unavailable(format!("relay {}: {error}", self.relay));
        let event = request
            .to_event(&self.uri)
            .map_err(|error| LnError::Rejected(format!("cannot build the NIP-47 request: {error}")))?;
        let stream = self.connect().await?;
        let (mut socket, _) =
            tokio_tungstenite::client_async(self.relay.as_str(), stream).await.map_err(|error| unavailable(&error))?;
        let subscription = SubscriptionId::generate();
        let filter = Filter::new()
            .kind(Kind::WalletConnectResponse)
            .author(self.uri.public_key)
            .pubkey(event.pubkey)
            .event(event.id);
        let request_id = event.id;
        for message in [ClientMessage::req(subscription.clone(), vec![filter]), ClientMessage::event(event)] {
            socket.send(Message::text(message.as_json())).await.map_err(|error| unavailable(&error))?;
        }
        while let Some(message) = socket.next().await {
            let text = match message.map_err(|error| unavailable(&error))? {
                Message::Text(text) => text,
                Message::Close(_) => break,
                _ => continue,
            };
            let Ok(message) = RelayMessage::from_json(text.as_str()) else { continue };
            match message {
                RelayMessage::Ok { event_id, status: false, message } if event_id == request_id => {
                    return Err(LnError::Unavailable(format!("the relay refused the request: {message}")));
                }
                RelayMessage::Event { subscription_id, event } if *subscription_id == subscription => {
                    if event.verify().is_err() || !event.tags.event_ids().any(|id| *id == request_id) {
                        continue;
                    }
                    let response = Response::from_event(&self.uri, &event)
                        .map_err(|error| LnError::BadResponse(format!("unreadable NIP-47 response: {error}")))?;
                    let _ = socket.close(None).await;
                    return Ok(response);
                }
                RelayMessage::Closed { subscription_id, message } if *subscription_id == subscription => {
                    return Err(LnError::Unavailable(format!("the relay closed the subscription: {message}")));
                }
                _ => {}
            }
        }
        Err(LnError::Unavailable(format!("relay {} closed the connection before the wallet answered", self.relay)))
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
