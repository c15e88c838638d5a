//! Published test vectors (Aperture's challenge ids) and the worked exchange of the scheme's fact sheet, then the
//! refusals: each must keep giving the same bytes and the same verdicts.

use mesh402_l402::{PaymentHash, Preimage, RequestBinding};

use crate::*;

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

fn challenge(realm: &str, request: &str) -> PaymentChallenge {
    PaymentChallenge {
        id: String::new(),
        realm: realm.into(),
        method: METHOD.into(),
        intent: INTENT.into(),
        request: request.into(),
        expires: None,
        digest: None,
        opaque: None,
        description: None,
    }
}

#[test]
fn apertures_challenge_id_vector() {
    let key = ChallengeKey::from_bytes(b"mpp-test-vector-secret".to_vec());
    let id = challenge("api.example.com", "eyJhbW91bnQiOiIxMDAifQ").expected_id(&key);
    assert_eq!(id, "_9D0WlPoPRltxAd6AdpQd6auVOOeQGJ_J8BkGeBE_bU");
}

const WORKED_REQUEST: &str = "eyJhbW91bnQiOiIxMDAwIiwiY3VycmVuY3kiOiJzYXQiLCJkZXNjcmlwdGlvbiI6ImltYWdlLXRvLTNEIG1vZGVsIiwibWV0aG9kRGV0YWlscyI6eyJpbnZvaWNlIjoibG5iYzEwdTFwNUVYQU1QTEUiLCJuZXR3b3JrIjoibWFpbm5ldCIsInBheW1lbnRIYXNoIjoiZTYzMWYwYjg5MTc5NTkyZGU5MjFjODVmNDUwY2I5N2Y1MmQ5NzNmYWIyM2Y4ZWE1NzczYmZmN2U0OTQ1NGU5ZiJ9fQ";
const WORKED_CREDENTIAL: &str = "eyJjaGFsbGVuZ2UiOnsiaWQiOiJoSkJ6Mmx6RVlhVkVJcVBlZzV1TlEtUW1wNWxoZXpqdzVxUDNVRi0zV1BjIiwicmVhbG0iOiJtZXNoNDAyLmV4YW1wbGUiLCJtZXRob2QiOiJsaWdodG5pbmciLCJpbnRlbnQiOiJjaGFyZ2UiLCJyZXF1ZXN0IjoiZXlKaGJXOTFiblFpT2lJeE1EQXdJaXdpWTNWeWNtVnVZM2tpT2lKellYUWlMQ0prWlhOamNtbHdkR2x2YmlJNkltbHRZV2RsTFhSdkxUTkVJRzF2WkdWc0lpd2liV1YwYUc5a1JHVjBZV2xzY3lJNmV5SnBiblp2YVdObElqb2liRzVpWXpFd2RURndOVVZZUVUxUVRFVWlMQ0p1WlhSM2IzSnJJam9pYldGcGJtNWxkQ0lzSW5CaGVXMWxiblJJWVhOb0lqb2laVFl6TVdZd1lqZzVNVGM1TlRreVpHVTVNakZqT0RWbU5EVXdZMkk1TjJZMU1tUTVOek5tWVdJeU0yWTRaV0UxTnpjelltWm1OMlUwT1RRMU5HVTVaaUo5ZlEiLCJleHBpcmVzIjoiMjAyNi0wOS0wMVQxMjoxNTowMFoifSwicGF5bG9hZCI6eyJwcmVpbWFnZSI6IjZlZWFjNGQwZmYxNzk2Yzc2MTJmZGY5MWE3YzY5NDg3MWI0YTIwMDRiYzFlMDVlYzUxMzIxY2E0N2Y3OWQyZDIifX0";
const WORKED_RECEIPT: &str = "eyJzdGF0dXMiOiJzdWNjZXNzIiwibWV0aG9kIjoibGlnaHRuaW5nIiwidGltZXN0YW1wIjoiMjAyNi0wOS0wMVQxMjowMzoxMFoiLCJyZWZlcmVuY2UiOiJlNjMxZjBiODkxNzk1OTJkZTkyMWM4NWY0NTBjYjk3ZjUyZDk3M2ZhYjIzZjhlYTU3NzNiZmY3ZTQ5NDU0ZTlmIiwiY2hhbGxlbmdlSWQiOiJoSkJ6Mmx6RVlhVkVJcVBlZzV1TlEtUW1wNWxoZXpqdzVxUDNVRi0zV1BjIn0";
/// 2026-09-01T12:15:00Z and 2026-09-01T12:03:10Z.
const WORKED_EXPIRES: u64 = 1_788_264_900;
const WORKED_RECEIPT_TIME: u64 = 1_788_264_190;

#[test]
fn the_worked_exchange_is_reproduced_byte_for_byte() {
    let preimage = Preimage(sha256(b"mesh402 example preimage"));
    assert_eq!(preimage.to_hex(), "6eeac4d0ff1796c7612fdf91a7c694871b4a2004bc1e05ec51321ca47f79d2d2");
    let hash = preimage.hash();
    let charge = ChargeRequest::new(1000, "lnbc10u1p5EXAMPLE", hash, Some("image-to-3D model"));
    assert_eq!(charge.encode(), WORKED_REQUEST, "the request is canonical JSON");
    assert_eq!(ChargeRequest::decode(WORKED_REQUEST).unwrap(), charge);

    let key = ChallengeKey::from_bytes(b"mesh402-example-secret".to_vec());
    let mut worked = challenge("mesh402.example", WORKED_REQUEST);
    worked.expires = Some(format_time(WORKED_EXPIRES));
    assert_eq!(worked.expires.as_deref(), Some("2026-09-01T12:15:00Z"));
    worked.id = worked.expected_id(&key);
    assert_eq!(worked.id, "hJBz2lzEYaVEIqPeg5uNQ-Qmp5lhezjw5qP3UF-3WPc");
    assert_eq!(
        worked.header_value(),
        format!(
            "Payment id=\"{}\", realm=\"mesh402.example\", method=\"lightning\", intent=\"charge\", \
             request=\"{WORKED_REQUEST}\", expires=\"2026-09-01T12:15:00Z\"",
            worked.id
        )
    );

    let credential = parse_authorization([format!("Payment {WORKED_CREDENTIAL}").as_str()]).unwrap().unwrap();
    assert_eq!(credential.challenge, worked);
    assert_eq!(credential.preimage(), Some(preimage.clone()));
    assert_eq!(
        PaymentCredential::new(worked.clone(), &preimage).header_value(),
        format!("Payment {WORKED_CREDENTIAL}")
    );

    let receipt = Receipt::new(&hash, &worked.id, WORKED_RECEIPT_TIME);
    assert_eq!(receipt.header_value(), WORKED_RECEIPT);
    assert_eq!(Receipt::decode(WORKED_RECEIPT), Some(receipt));
}

const NOW: u64 = 1_800_000_000;

struct Sale {
    key: ChallengeKey,
    preimage: Preimage,
    binding: RequestBinding,
    challenge: PaymentChallenge,
}

fn sale() -> Sale {
    let key = ChallengeKey::from_bytes([5; 32]);
    let preimage = Preimage([0xab; 32]);
    let binding = RequestBinding([3; 32]);
    let charge = ChargeRequest::new(250, "lnbcrt2500n1p", preimage.hash(), None);
    let parts = ChallengeParts {
        realm: "127.0.0.1:8402",
        request: &charge,
        expires_unix: NOW + 600,
        digest: Some(BodyDigest::of(b"{\"image\":\"...\"}")),
        binding: Binding { request: binding, valid_until: NOW + 86_400 },
        description: Some("one \"3D\" model"),
    };
    let challenge = PaymentChallenge::issue(&key, &parts).unwrap();
    Sale { key, preimage, binding, challenge }
}

fn context(binding: Option<RequestBinding>) -> VerifyContext<'static> {
    VerifyContext { realm: "127.0.0.1:8402", now_unix: NOW, request_binding: binding }
}

fn check(
    sale: &Sale,
    credential: &PaymentCredential,
    binding: Option<RequestBinding>,
) -> Result<VerifiedCharge, VerifyError> {
    verify(credential, std::slice::from_ref(&sale.key), &context(binding))
}

#[test]
fn a_paid_credential_verifies_and_its_parts_are_what_was_sold() {
    let sale = sale();
    let header = sale.challenge.header_value();
    let read = PaymentChallenge::from_parsed(&parse_challenges(&header)[0]).unwrap().unwrap();
    assert_eq!(read, sale.challenge, "the header reads back as the challenge");
    let credential = PaymentCredential::new(read, &sale.preimage);
    let verified = check(&sale, &credential, Some(sale.binding)).unwrap();
    assert_eq!(verified.payment_hash, sale.preimage.hash());
    assert_eq!(verified.amount_sats, 250);
    assert_eq!(verified.valid_until, NOW + 86_400);
    assert_eq!(verified.challenge_id, sale.challenge.id);
    assert!(credential.digest_matches(&BodyDigest::of(b"{\"image\":\"...\"}")));
    assert!(!credential.digest_matches(&BodyDigest::of(b"{\"image\": \"...\"}")));
    // Status requests carry no body: no binding asked for.
    assert!(check(&sale, &credential, None).is_ok());
    // After a key rotation the previous key still verifies.
    let rotated = ChallengeKey::from_bytes([6; 32]);
    assert!(verify(&credential, &[rotated.clone(), sale.key.clone()], &context(None)).is_ok());
    assert_eq!(verify(&credential, &[rotated], &context(None)), Err(VerifyError::BadId));
}

#[test]
fn tampered_foreign_expired_and_unpaid_credentials_are_refused() {
    let sale = sale();
    let paid = PaymentCredential::new(sale.challenge.clone(), &sale.preimage);
    let refused = |edit: &dyn Fn(&mut PaymentCredential), binding: Option<RequestBinding>| {
        let mut credential = paid.clone();
        edit(&mut credential);
        check(&sale, &credential, binding).unwrap_err()
    };
    // Any bound parameter changed: the id no longer binds it.
    let cheaper = ChargeRequest::new(1, "lnbcrt10n1p", sale.preimage.hash(), None).encode();
    assert_eq!(refused(&|c| c.challenge.request = cheaper.clone(), None), VerifyError::BadId);
    assert_eq!(refused(&|c| c.challenge.expires = Some(format_time(NOW + 9_999)), None), VerifyError::BadId);
    assert_eq!(refused(&|c| c.challenge.digest = None, None), VerifyError::BadId);
    assert_eq!(refused(&|c| c.challenge.opaque = None, None), VerifyError::BadId);
    assert_eq!(refused(&|c| c.challenge.id.push('A'), None), VerifyError::BadId);
    // The description is not bound: changing it changes nothing.
    let mut described = paid.clone();
    described.challenge.description = Some("other text".into());
    assert!(check(&sale, &described, None).is_ok());
    // Another realm's challenge, another method.
    assert_eq!(refused(&|c| c.challenge.realm = "evil.example".into(), None), VerifyError::ForeignRealm);
    assert_eq!(refused(&|c| c.challenge.method = "tempo".into(), None), VerifyError::MethodUnsupported);
    assert_eq!(refused(&|c| c.challenge.intent = "session".into(), None), VerifyError::MethodUnsupported);
    // A preimage that is not the invoice's, or not lowercase hex.
    assert_eq!(refused(&|c| c.payload.preimage = Preimage([8; 32]).to_hex(), None), VerifyError::PreimageMismatch);
    let upper = sale.preimage.to_hex().to_uppercase();
    assert_eq!(refused(&|c| c.payload.preimage = upper.clone(), None), VerifyError::PreimageMismatch);
    // The payment hash put where the preimage belongs.
    let hash = sale.preimage.hash().to_string();
    assert_eq!(refused(&|c| c.payload.preimage = hash.clone(), None), VerifyError::PreimageMismatch);
    // Another request.
    assert_eq!(refused(&|_| {}, Some(RequestBinding([4; 32]))), VerifyError::RequestMismatch);
    // Past its time.
    let late = VerifyContext { now_unix: NOW + 86_400, ..context(None) };
    assert!(matches!(verify(&paid, std::slice::from_ref(&sale.key), &late), Err(VerifyError::Expired { .. })));
    // The invoice's expiry alone does not end a paid credential.
    let after_invoice = VerifyContext { now_unix: NOW + 601, ..context(None) };
    assert!(verify(&paid, std::slice::from_ref(&sale.key), &after_invoice).is_ok());
}

#[test]
fn unreadable_credentials_are_told_apart() {
    let sale = sale();
    let good = PaymentCredential::new(sale.challenge.clone(), &sale.preimage).header_value();
    assert_eq!(parse_authorization(["L402 abc:def"]).unwrap(), None);
    assert_eq!(parse_authorization(["Payment"]).unwrap_err(), CredentialError::Empty);
    assert_eq!(parse_authorization(["Payment a+b/c"]).unwrap_err(), CredentialError::NotBase64url);
    assert_eq!(parse_authorization(["Payment e30"]).unwrap_err(), CredentialError::NotCredential);
    let long = format!("Payment {}", "A".repeat(MAX_CREDENTIAL_LEN + 1));
    assert_eq!(parse_authorization([long.as_str()]).unwrap_err(), CredentialError::TooLong);
    // Padding and the scheme's case do not matter; two different credentials do.
    let padded = format!("payment {}==", good.trim_start_matches("Payment "));
    assert!(parse_authorization([padded.as_str()]).unwrap().is_some());
    let other = PaymentCredential::new(sale.challenge.clone(), &Preimage([1; 32])).header_value();
    assert_eq!(parse_authorization([good.as_str(), other.as_str()]).unwrap_err(), CredentialError::Several);
    assert!(parse_authorization([good.as_str(), good.as_str()]).unwrap().is_some());
}

#[test]
fn challenges_with_repeated_or_missing_parameters_are_refused() {
    let parsed =
        parse_challenges(r#"Payment id="a", id="b", realm="r", method="lightning", intent="charge", request="e30""#);
    assert_eq!(PaymentChallenge::from_parsed(&parsed[0]).unwrap(), Err(ChallengeError::Repeated("id".into())));
    let parsed = parse_challenges(r#"Payment id="a", realm="r", method="lightning", intent="charge""#);
    assert_eq!(PaymentChallenge::from_parsed(&parsed[0]).unwrap(), Err(ChallengeError::Missing("request")));
    assert!(PaymentChallenge::from_parsed(&parse_challenges("L402 macaroon=\"x\"")[0]).is_none());
    let key = ChallengeKey::from_bytes([1; 32]);
    let charge = ChargeRequest::new(1, "lnbc1", PaymentHash([0; 32]), None);
    let parts = ChallengeParts {
        realm: "a|b",
        request: &charge,
        expires_unix: NOW,
        digest: None,
        binding: Binding { request: RequestBinding([0; 32]), valid_until: NOW },
        description: None,
    };
    assert_eq!(PaymentChallenge::issue(&key, &parts), Err(ChallengeError::BadRealm));
    assert_eq!(Network::of_invoice("LNBCRT1"), Some(Network::Regtest));
    assert_eq!(Network::of_invoice("lntbs1"), Some(Network::Signet));
    assert_eq!(Network::of_invoice("lntb1"), None);
    assert_eq!(ChargeRequest { amount: "010".into(), ..charge.clone() }.amount_sats(), None);
}
