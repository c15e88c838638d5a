// The `Payment` scheme as the mppx SDK (wevm/mppx, npm) speaks it, against a running mesh402: the SDK reads the
// 402's challenges, the development wallet pays the invoice of the Lightning charge, the SDK builds the credential
// and reads the receipt; mppx's discovery validator checks /openapi.json, and, with "validate", its endpoint
// validator checks the challenge and the handling of a malformed credential (it reads only a 402 whose first
// WWW-Authenticate line is a Payment one: run it against a server offering that scheme alone).
// Usage: node mpp-client.mjs <base url> <image.png> [validate]
// Prints one JSON summary on stdout.
import { readFileSync } from "node:fs";
import { Challenge, Credential, Receipt } from "mppx";
import { validate as validateDiscovery } from "mppx/discovery";
import { validate as validateServer } from "mppx/validation";

const [baseUrl, imagePath, mode] = process.argv.slice(2);
const endpoint = `${baseUrl}/api/l402/3d-model`;
const body = JSON.stringify({ image: `data:image/png;base64,${readFileSync(imagePath).toString("base64")}` });
const headers = { "content-type": "application/json" };

const first = await fetch(endpoint, { method: "POST", headers, body });
if (first.status !== 402) throw new Error(`expected 402, got ${first.status}`);
const challenges = Challenge.fromResponseList(first);
const problem = await first.json();
const challenge = challenges.find((c) => c.method === "lightning" && c.intent === "charge");
if (!challenge) throw new Error("no lightning/charge challenge");

const paid = await fetch(`${baseUrl}/dev/pay`, {
  method: "POST",
  headers,
  body: JSON.stringify({ invoice: challenge.request.methodDetails.invoice }),
});
const { preimage } = await paid.json();
const authorization = Credential.serialize(Credential.from({ challenge, payload: { preimage } }));
const answer = await fetch(endpoint, { method: "POST", headers: { ...headers, authorization }, body });
const receipt = answer.status === 200 ? Receipt.fromResponse(answer) : null;
const model = await answer.json();

const openapi = await (await fetch(`${baseUrl}/openapi.json`)).json();
const discoveryIssues = validateDiscovery(openapi);

let validation = null;
if (mode === "validate") {
  const result = await validateServer({ url: baseUrl, endpoint: "POST:/api/l402/3d-model", body, skipPayment: true });
  const checks = [...result.discovery.checks, ...result.endpoints.flatMap((e) => [...e.challenge, ...e.errorHandling])];
  validation = {
    summary: result.summary,
    failed: checks.filter((c) => c.severity === "fail").map((c) => `${c.label}: ${c.detail ?? ""}`),
    warnings: checks.filter((c) => c.severity === "warn").map((c) => `${c.label}: ${c.detail ?? ""}`),
    passed: checks.filter((c) => c.severity === "pass").map((c) => c.label),
  };
}

console.log(
  JSON.stringify({
    challenges: challenges.map((c) => `${c.method}/${c.intent}`),
    realm: challenge.realm,
    amount: challenge.request.amount,
    currency: challenge.request.currency,
    paymentHash: challenge.request.methodDetails.paymentHash,
    expires: challenge.expires,
    digest: challenge.digest,
    meta: challenge.meta ?? null,
    problemType: problem.type,
    status: answer.status,
    receipt,
    modelUrl: model.modelUrl ?? null,
    discoveryIssues,
    validation,
  }),
);
