//! Nostr Wallet Connect: a relay and a wallet service in one small WebSocket server, speaking NIP-01 and NIP-47
//! (NIP-44 v2 and NIP-04 as the wallet's info event says), after NIP-47 as merged and the wallets that implement it.
//!
//! Mirrors nostr-protocol/nips `47.md` at commit 999f9bfbf5fe00d5c2711fd24badb4e56748c9bc (its last change): the
//! info event's `encryption` tag (`nip44_v2 nip04`; no tag means NIP-04 only), requests and responses encrypted
//! with what the wallet says it reads, the error codes; and Alby Hub's codes outside that list (`BAD_REQUEST`).

use std::str::FromStr;
use std::sync::Arc;

use axum::http::HeaderMap;
use mesh402_l402::PaymentHash;
use mesh402_ln::{InvoiceState, LightningBackend};
use serde_json::{Value, json};

use super::{FakeNode, unix_now};

use nostr::nips::nip47::{
    ErrorCode, LookupInvoiceResponse, MakeInvoiceResponse, NIP47Error, NostrWalletConnectURI, PayInvoiceResponse,
    Request, RequestParams, Response, ResponseResult, TransactionState, TransactionType,
};
use nostr::nips::{nip04, nip44};
use nostr::{ClientMessage, EventBuilder, JsonUtil, Kind, PublicKey, RelayMessage, RelayUrl, Tag, Timestamp};
use tokio_tungstenite::tungstenite::Message;

/// Nostr keys, for the wallet service and its clients.
pub use nostr::Keys;

/// Which wallet service the relay plays, after NIP-47 as merged and the wallets that implement it (Alby Hub
/// answers codes outside the `nostr` crate's list, such as `BAD_REQUEST`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Info event `encryption: nip44_v2 nip04`; reads and answers both.
    Current,
    /// Info event `encryption: nip44_v2`; a NIP-04 request is ignored, as a wallet that cannot read it does.
    Nip44Only,
    /// Info event without an `encryption` tag (a wallet from before NIP-44): NIP-04 only.
    Nip04Legacy,
    /// Reads both, and answers every request with the error code `BAD_REQUEST`.
    UnknownCodes,
}

/// A relay that is also the wallet service: it answers requests signed by `allowed` only.
pub async fn start(node: Arc<FakeNode>, wallet: Keys, allowed: PublicKey) -> String {
    start_as(node, wallet, allowed, Mode::Current).await
}

/// [`start`] as the wallet `mode` describes.
pub async fn start_as(node: Arc<FakeNode>, wallet: Keys, allowed: PublicKey, mode: Mode) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (node, wallet) = (node.clone(), wallet.clone());
            tokio::spawn(async move { connection(stream, node, wallet, allowed, mode).await });
        }
    });
    url
}

fn info_event(wallet: &Keys, mode: Mode) -> nostr::Event {
    let mut tags = Vec::new();
    match mode {
        Mode::Current | Mode::UnknownCodes => {
            tags.push(Tag::custom(nostr::TagKind::custom("encryption"), ["nip44_v2 nip04"]));
        }
        Mode::Nip44Only => tags.push(Tag::custom(nostr::TagKind::custom("encryption"), ["nip44_v2"])),
        Mode::Nip04Legacy => {}
    }
    EventBuilder::new(Kind::WalletConnectInfo, "pay_invoice make_invoice lookup_invoice")
        .tags(tags)
        .sign_with_keys(wallet)
        .unwrap()
}

async fn connection(stream: tokio::net::TcpStream, node: Arc<FakeNode>, wallet: Keys, allowed: PublicKey, mode: Mode) {
    use futures_util::{SinkExt, StreamExt};
    let _ = stream.set_nodelay(true);
    let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else { return };
    let mut subscription = None;
    while let Some(Ok(Message::Text(text))) = socket.next().await {
        let Ok(message) = ClientMessage::from_json(text.as_str()) else { continue };
        let request_event = match message {
            ClientMessage::Req { subscription_id, filters } => {
                let id = subscription_id.into_owned();
                let wants_info = filters
                    .iter()
                    .any(|filter| filter.kinds.as_ref().is_some_and(|kinds| kinds.contains(&Kind::WalletConnectInfo)));
                if wants_info {
                    let info = RelayMessage::event(id.clone(), info_event(&wallet, mode));
                    socket.send(Message::text(info.as_json())).await.unwrap();
                } else {
                    subscription = Some(id.clone());
                }
                socket.send(Message::text(RelayMessage::eose(id).as_json())).await.unwrap();
                continue;
            }
            ClientMessage::Event(event) if event.kind == Kind::WalletConnectRequest => event.into_owned(),
            _ => continue,
        };
        let ok = RelayMessage::ok(request_event.id, true, "");
        socket.send(Message::text(ok.as_json())).await.unwrap();
        // A request this wallet cannot read is not for it: a wallet service ignores it.
        let nip04_request = request_event.content.contains("?iv=");
        let plain = match (nip04_request, mode) {
            (true, Mode::Nip44Only) | (false, Mode::Nip04Legacy) => continue,
            (true, _) => nip04::decrypt(wallet.secret_key(), &request_event.pubkey, &request_event.content),
            (false, _) => nip44::decrypt(wallet.secret_key(), &request_event.pubkey, &request_event.content)
                .map_err(|_| nip04::Error::InvalidContentFormat),
        };
        let Ok(plain) = plain else { continue };
        let mut recorded: Value = serde_json::from_str(&plain).unwrap();
        recorded["encryption"] = json!(if nip04_request { "nip04" } else { "nip44_v2" });
        node.record(&HeaderMap::new(), recorded);
        let request = Request::from_json(&plain).unwrap();
        let response = if mode == Mode::UnknownCodes {
            json!({ "result_type": request.method, "error": { "code": "BAD_REQUEST", "message": "expired" } })
                .to_string()
        } else {
            let (result, error) = if request_event.pubkey != allowed {
                (None, Some(NIP47Error { code: ErrorCode::Unauthorized, message: "no wallet for this key".into() }))
            } else {
                answer(&node, request.params).await
            };
            Response { result_type: request.method, error, result }.as_json()
        };
        let encrypted = if nip04_request {
            nip04::encrypt(wallet.secret_key(), &request_event.pubkey, response).unwrap()
        } else {
            nip44::encrypt(wallet.secret_key(), &request_event.pubkey, response, nip44::Version::V2).unwrap()
        };
        let event = EventBuilder::new(Kind::WalletConnectResponse, encrypted)
            .tags([Tag::event(request_event.id), Tag::public_key(request_event.pubkey)])
            .sign_with_keys(&wallet)
            .unwrap();
        let Some(subscription) = subscription.clone() else { continue };
        socket.send(Message::text(RelayMessage::event(subscription, event).as_json())).await.unwrap();
    }
}

async fn answer(node: &FakeNode, params: RequestParams) -> (Option<ResponseResult>, Option<NIP47Error>) {
    match params {
        RequestParams::MakeInvoice(params) => {
            let created = node
                .create(params.amount, params.description.as_deref().unwrap_or(""), params.expiry.unwrap_or(3600))
                .await;
            let made = MakeInvoiceResponse {
                invoice: created.bolt11,
                payment_hash: Some(created.payment_hash.to_string()),
                description: None,
                description_hash: None,
                preimage: None,
                amount: Some(params.amount),
                created_at: None,
                expires_at: Some(Timestamp::from_secs(created.expires_at)),
            };
            (Some(ResponseResult::MakeInvoice(made)), None)
        }
        RequestParams::LookupInvoice(params) => {
            let hash = PaymentHash::from_str(params.payment_hash.as_deref().unwrap()).unwrap();
            let (state, preimage) = match node.wallet.lookup_invoice(&hash).await {
                Ok(InvoiceState::Open) => (TransactionState::Pending, None),
                Ok(InvoiceState::Settled { preimage }) => (TransactionState::Settled, preimage.map(|p| p.to_hex())),
                Ok(other) => panic!("{other:?}"),
                Err(_) => {
                    let error = NIP47Error { code: ErrorCode::NotFound, message: "invoice not found".into() };
                    return (None, Some(error));
                }
            };
            let found = LookupInvoiceResponse {
                transaction_type: Some(TransactionType::Incoming),
                state: Some(state),
                invoice: None,
                description: None,
                description_hash: None,
                settled_at: preimage.as_ref().map(|_| Timestamp::now()),
                preimage,
                payment_hash: hash.to_string(),
                amount: 21_000,
                fees_paid: 0,
                created_at: Timestamp::now(),
                expires_at: Some(Timestamp::from_secs(unix_now() + 600)),
                metadata: None,
            };
            (Some(ResponseResult::LookupInvoice(found)), None)
        }
        RequestParams::PayInvoice(params) => match node.pay(&params.invoice).await {
            Ok(preimage) => {
                let paid = PayInvoiceResponse { preimage: preimage.to_hex(), fees_paid: Some(0) };
                (Some(ResponseResult::PayInvoice(paid)), None)
            }
            Err(error) => (None, Some(NIP47Error { code: ErrorCode::PaymentFailed, message: error.to_string() })),
        },
        _ => (None, Some(NIP47Error { code: ErrorCode::NotImplemented, message: "no".into() })),
    }
}

/// The connection string (`nostr+walletconnect://…`) by which `client` reaches `wallet` through `relay`.
pub fn uri(wallet: &Keys, relay: &str, client: &Keys) -> String {
    let relay = RelayUrl::parse(relay).unwrap();
    NostrWalletConnectURI::new(wallet.public_key(), vec![relay], client.secret_key().clone(), None).to_string()
}
