// Drives mesh402 with L402 client code the project did not write: Alby's fetchWithL402 pays and retries,
// the `bolt11` package decodes the invoice, js-macaroon decodes the macaroon, and the Khronos glTF validator
// checks the downloaded model. The wallet handed to fetchWithL402 pays through the server's /dev/pay.
//
// Usage: node l402-client.mjs <server-url> <image-file>; prints a JSON summary, exits non-zero on failure.
import { readFileSync } from "node:fs";
import { fetchWithL402, parseL402 } from "@getalby/lightning-tools";
import bolt11 from "bolt11";
import macaroon from "macaroon";
import validator from "gltf-validator";

const [server, imagePath] = process.argv.slice(2);
if (!server || !imagePath) {
  console.error("usage: node l402-client.mjs <server-url> <image-file>");
  process.exit(2);
}
const fail = (message) => {
  console.error(`l402-client: ${message}`);
  process.exit(1);
};

const image = readFileSync(imagePath).toString("base64");
const url = `${server}/api/l402/3d-model`;
const request = {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ image: `data:image/png;base64,${image}` }),
};

// 1. Look at the challenge the way these libraries do.
const first = await fetch(url, request);
if (first.status !== 402) fail(`expected 402, got ${first.status}`);
const challenge = parseL402(first.headers.get("www-authenticate"));
if (!challenge.macaroon || !challenge.invoice) fail("parseL402 found no macaroon or invoice");
const decoded = bolt11.decode(challenge.invoice);
if (decoded.network?.bech32 !== "bcrt") fail(`invoice network ${JSON.stringify(decoded.network)}`);
const hashTag = decoded.tags.find((tag) => tag.tagName === "payment_hash");
const expiryTag = decoded.tags.find((tag) => tag.tagName === "expire_time");
const mac = macaroon.importMacaroon(challenge.macaroon);
const identifier = Buffer.from(mac.identifier);
if (identifier.length !== 66 || identifier.readUInt16BE(0) !== 0) fail("macaroon identifier is not L402 v0");
if (identifier.subarray(2, 34).toString("hex") !== hashTag.data) fail("identifier does not hold the payment hash");
const caveats = mac.caveats.map((caveat) => Buffer.from(caveat.identifier).toString("utf8"));

// 2. The full flow through fetchWithL402, paying with a WebLN-shaped wallet backed by /dev/pay.
const webln = {
  enable: async () => {},
  sendPayment: async (invoice) => {
    const paid = await fetch(`${server}/dev/pay`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ invoice }),
    });
    if (!paid.ok) throw new Error(`dev pay failed: ${paid.status}`);
    return { preimage: (await paid.json()).preimage };
  },
};
const response = await fetchWithL402(url, request, { webln });
if (response.status !== 200) fail(`fetchWithL402 ended with ${response.status}: ${await response.text()}`);
const result = await response.json();
const model = await fetch(result.modelUrl);
if (model.status !== 200) fail(`download ${result.modelUrl}: ${model.status}`);
if (model.headers.get("content-type") !== "model/gltf-binary") fail(`content-type ${model.headers.get("content-type")}`);
const bytes = new Uint8Array(await model.arrayBuffer());
const report = await validator.validateBytes(bytes);

console.log(
  JSON.stringify({
    amountSats: decoded.satoshis,
    expirySeconds: expiryTag?.data,
    payeeNodeKey: decoded.payeeNodeKey,
    signatureOk: decoded.signature?.length > 0,
    caveats,
    modelUrl: result.modelUrl,
    modelBytes: bytes.length,
    validatorErrors: report.issues.numErrors,
    validatorWarnings: report.issues.numWarnings,
  }),
);
if (report.issues.numErrors !== 0 || report.issues.numWarnings !== 0) fail("the glTF validator found issues");
