//! Benchmarks of the three operations on the request path: minting a token (with its base64 form),
//! parsing a credential and verifying it. Run with `cargo bench -p mesh402-l402`.

use divan::{Bencher, black_box};
use mesh402_l402::{
    Credential, Identifier, Keyring, MintParams, Preimage, RequestBinding, ServerSecret, TokenId, VerifyContext, mint,
    parse_authorization, verify,
};

const SERVICE: &str = "3d-model";
const NOW: u64 = 1_800_000_000;

fn main() {
    divan::main();
}

fn keyring() -> Keyring {
    Keyring::new(ServerSecret::from_bytes([42; 32])).with_previous(ServerSecret::from_bytes([41; 32]))
}

fn params(binding: &RequestBinding) -> MintParams<'_> {
    MintParams { service: SERVICE, tier: 0, capabilities: &[], valid_until: NOW + 600, request_binding: Some(*binding) }
}

fn identifier(preimage: &Preimage) -> Identifier {
    Identifier { payment_hash: preimage.hash(), token_id: TokenId([7; 32]) }
}

fn never_revoked(_: &TokenId) -> bool {
    false
}

fn context(binding: RequestBinding) -> VerifyContext<'static> {
    VerifyContext {
        service: SERVICE,
        now_unix: black_box(NOW),
        request_binding: Some(binding),
        is_revoked: &never_revoked,
    }
}

/// Mints a token and encodes it for the `WWW-Authenticate` header.
#[divan::bench]
fn mint_token(bencher: Bencher) {
    let keyring = keyring();
    let preimage = Preimage([1; 32]);
    let identifier = identifier(&preimage);
    let binding = RequestBinding::digest(b"request");
    bencher.bench(|| mint(black_box(&keyring), black_box(&identifier), black_box(&params(&binding))).to_base64());
}

fn header() -> String {
    let keyring = keyring();
    let preimage = Preimage([1; 32]);
    let binding = RequestBinding::digest(b"request");
    let macaroon = mint(&keyring, &identifier(&preimage), &params(&binding));
    Credential { macaroons: vec![macaroon], preimage }.to_header_value()
}

/// Parses an `Authorization: L402 <macaroon>:<preimage>` value.
#[divan::bench]
fn parse_credential(bencher: Bencher) {
    let header = header();
    bencher.bench(|| parse_authorization([black_box(header.as_str())]));
}

/// Verifies a parsed credential: preimage hash, root key, HMAC chain and caveats.
#[divan::bench]
fn verify_credential(bencher: Bencher) {
    let keyring = keyring();
    let credential = parse_authorization([header().as_str()]).ok().flatten();
    let binding = RequestBinding::digest(b"request");
    // `VerifyContext` holds a `&dyn Fn`, which is not `Sync`, so it is built inside the measured
    // closure (a few field copies).
    bencher.bench(|| credential.as_ref().map(|c| verify(black_box(c), black_box(&keyring), &context(binding))));
}

/// Verifies a credential minted under the previous secret (one more root key and chain).
#[divan::bench]
fn verify_credential_after_rotation(bencher: Bencher) {
    let old = Keyring::new(ServerSecret::from_bytes([41; 32]));
    let preimage = Preimage([1; 32]);
    let binding = RequestBinding::digest(b"request");
    let macaroon = mint(&old, &identifier(&preimage), &params(&binding));
    let credential = Credential { macaroons: vec![macaroon], preimage };
    let keyring = keyring();
    bencher.bench(|| verify(black_box(&credential), black_box(&keyring), &context(binding)));
}
