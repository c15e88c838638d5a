// The mesh402 page: choose a photo, get a price (the 402), pay (QR code, WebLN, or the development wallet), follow
// the paid job (202 + status URL, polled with the credential), then show and offer the model. The purchase is kept
// in localStorage so a reload or a dropped connection gets the same model without paying again.

const STORE_KEY = "mesh402.purchase";
const DOWNSCALE_SIDE = 2048;
const $ = (id) => document.getElementById(id);

let config = {
  dev_wallet: false, max_body_bytes: 32 * 1024 * 1024, price_sats: null,
  target_faces: { min: 500, max: 200000, default: 20000 }, max_pixels: 40000000, max_dimension: 16384,
};
let chosen = null; // { file, dataUrl, width, height, bytes }
let purchase = null; // { body, macaroon, invoice, amount_sats, expires_at, preimage, status_url, model }
let timers = [];

// ---------------------------------------------------------------------------------------------------------------
// Small helpers

function setState(name) {
  document.body.dataset.state = name;
}

function show(step) {
  for (const id of ["step-photo", "step-pay", "step-progress", "step-model"]) $(id).hidden = id !== step;
}

function showError(text) {
  const box = $("error");
  box.textContent = text;
  box.hidden = !text;
  if (text) {
    setState("error");
    box.scrollIntoView({ block: "nearest" });
  }
}

function clearTimers() {
  for (const timer of timers) clearInterval(timer);
  timers = [];
}

function save() {
  if (!purchase) {
    localStorage.removeItem(STORE_KEY);
    return;
  }
  try {
    localStorage.setItem(STORE_KEY, JSON.stringify(purchase));
  } catch {
    // The photo may be too large for localStorage: keep the credential, which is what matters after payment.
    const { body, ...rest } = purchase;
    try { localStorage.setItem(STORE_KEY, JSON.stringify(rest)); } catch { /* storage unavailable */ }
  }
}

function formatBytes(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  return `${bytes} bytes`;
}

const STAGES = {
  queued: "Waiting for a free worker", decode: "Reading the photo", mask: "Finding the object",
  segment: "Finding the object", contour: "Tracing its outline", triangulate: "Building the surface",
  inflate: "Giving it depth", heights: "Giving it depth", texture: "Painting the texture",
  encode: "Writing the file", check: "Checking the model", done: "Done",
};

function stageText(stage) {
  if (!stage) return "Working";
  return STAGES[stage] || stage.charAt(0).toUpperCase() + stage.slice(1).replaceAll("_", " ");
}

// An error from the server in words a person understands: the server's own sentence, with what to do next.
async function errorText(response, context) {
  let message = "";
  let code = "";
  try {
    const body = await response.json();
    message = body?.error?.message || "";
    code = body?.error?.code || "";
  } catch { /* not JSON */ }
  const advice = {
    body_too_large: "Turn on shrinking of large photos, or choose a smaller photo.",
    image_too_large: "Turn on shrinking of large photos, or choose a smaller photo.",
    no_object_found: "Try a photo of one or a few objects that stand out from the background.",
    lightning_unavailable: "The server's Lightning node is busy; try again in a few seconds.",
    storage_unavailable: "The server's storage is not answering; nothing was lost. Try again in a few seconds: a paid request keeps its payment.",
    rate_limited: "Too many requests; wait a moment.",
  }[code];
  const parts = [context, message || `The server answered ${response.status}.`, advice].filter(Boolean);
  return parts.join(" ");
}

async function call(url, options, context) {
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    throw new Error(`${context} The server cannot be reached; check your connection and try again.`);
  }
  return response;
}

// ---------------------------------------------------------------------------------------------------------------
// 1. The photo

async function loadConfig() {
  try {
    const response = await fetch("/api/page-config");
    if (response.ok) config = { ...config, ...(await response.json()) };
  } catch { /* defaults */ }
  $("limit-bytes").textContent = formatBytes(config.max_body_bytes);
  const faces = $("faces");
  faces.min = config.target_faces.min;
  faces.max = config.target_faces.max;
  faces.value = config.target_faces.default;
  $("faces-range").textContent = `${config.target_faces.min}–${config.target_faces.max}`;
  $("dev-pay-box").hidden = !config.dev_wallet;
  if (config.price_sats != null) $("quote").textContent = `Get the price (${config.price_sats} sats)`;
}

function readAsDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error("This file is not a picture the browser can read."));
    image.src = url;
  });
}

async function choose(file) {
  showError("");
  if (!file) return;
  if (!["image/png", "image/jpeg", "image/webp"].includes(file.type)) {
    showError(`This file is ${file.type || "of an unknown type"}; choose a PNG, JPEG or WebP photo.`);
    return;
  }
  const url = URL.createObjectURL(file);
  let image;
  try {
    image = await loadImage(url);
  } catch (error) {
    showError(error.message);
    return;
  }
  $("preview").src = url;
  $("preview").hidden = false;
  chosen = { file, image, width: image.naturalWidth, height: image.naturalHeight };
  $("photo-info").textContent = `${file.name || "Pasted picture"}: ${chosen.width}×${chosen.height} pixels, ${formatBytes(file.size)}.`;
  $("quote").disabled = false;
  setState("photo-chosen");
}

// The data URI to send: the file itself, or, when shrinking is on and the photo is larger, a smaller copy
// (PNG when the original may have transparency, which the server uses to find the object; JPEG otherwise).
async function photoDataUrl() {
  const { file, image, width, height } = chosen;
  const side = Math.max(width, height);
  if (!$("downscale").checked || side <= DOWNSCALE_SIDE) return readAsDataUrl(file);
  const scale = DOWNSCALE_SIDE / side;
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  const context = canvas.getContext("2d");
  context.imageSmoothingQuality = "high";
  context.drawImage(image, 0, 0, canvas.width, canvas.height);
  const type = file.type === "image/jpeg" ? "image/jpeg" : "image/png";
  return canvas.toDataURL(type, 0.92);
}

async function requestBody() {
  const image = await photoDataUrl();
  const faces = Number($("faces").value);
  const { min, max } = config.target_faces;
  if (!Number.isInteger(faces) || faces < min || faces > max) {
    throw new Error(`The number of triangles must be a whole number between ${min} and ${max}.`);
  }
  const body = JSON.stringify({ image, mode: $("mode").value, format: $("format").value, target_faces: faces });
  if (body.length > config.max_body_bytes) {
    throw new Error(`This photo is ${formatBytes(body.length)} once encoded, over the server's limit of ${formatBytes(config.max_body_bytes)}. Turn on shrinking of large photos or choose a smaller one.`);
  }
  return body;
}

// ---------------------------------------------------------------------------------------------------------------
// 2. The price and the payment

async function quote() {
  showError("");
  $("quote").disabled = true;
  setState("quoting");
  try {
    const body = await requestBody();
    const response = await call("/api/l402/3d-model", {
      method: "POST", headers: { "Content-Type": "application/json" }, body,
    }, "The price could not be asked for.");
    if (response.status !== 402) {
      throw new Error(await errorText(response, "This photo cannot be made into a model, and you have not paid anything."));
    }
    const challenge = await response.json();
    purchase = {
      body, macaroon: challenge.macaroon, invoice: challenge.invoice, amount_sats: challenge.amount_sats,
      expires_at: challenge.expires_at, payment_hash: challenge.payment_hash, preimage: null,
    };
    save();
    showPayment();
  } catch (error) {
    showError(error.message);
    setState("photo-chosen");
  } finally {
    $("quote").disabled = !chosen;
  }
}

function drawQr(text) {
  const qr = qrcode(0, "M");
  qr.addData(text, "Alphanumeric");
  qr.make();
  const count = qr.getModuleCount();
  const canvas = $("qr");
  const quiet = 4;
  const scale = Math.max(2, Math.floor(528 / (count + 2 * quiet)));
  canvas.width = canvas.height = (count + 2 * quiet) * scale;
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.fillStyle = "#000";
  for (let row = 0; row < count; row++) {
    for (let col = 0; col < count; col++) {
      if (qr.isDark(row, col)) context.fillRect((col + quiet) * scale, (row + quiet) * scale, scale, scale);
    }
  }
}

function showPayment() {
  clearTimers();
  show("step-pay");
  setState("awaiting-payment");
  const { invoice, amount_sats, expires_at } = purchase;
  $("price").textContent = `${amount_sats} sats for one model`;
  $("invoice").value = invoice;
  const uri = `lightning:${invoice}`;
  $("open-wallet").href = uri;
  $("qr-link").href = uri;
  drawQr(uri.toUpperCase());
  // A browser wallet (WebLN) defines window.webln; no element of the page has that id, so it is never a DOM node.
  $("pay-webln").hidden = typeof window.webln?.sendPayment !== "function";
  $("pay-status").textContent = "Waiting for the payment… Scan the code with a Lightning wallet, or use a button.";
  const deadline = Date.parse(expires_at);
  const tick = () => {
    const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    const minutes = Math.floor(left / 60);
    const seconds = String(left % 60).padStart(2, "0");
    $("countdown").textContent = left > 0
      ? `The invoice expires in ${minutes}:${seconds}.`
      : "The invoice has expired.";
    if (left === 0) {
      clearTimers();
      $("pay-status").textContent = "";
      showError("The invoice expired before it was paid. Nothing was charged; choose \"Get the price\" again for a new one.");
      purchase = null;
      save();
      show("step-photo");
    }
  };
  tick();
  timers.push(setInterval(tick, 1000));
  let asking = false;
  const poll = async () => {
    if (asking || !purchase || purchase.preimage) return;
    asking = true;
    try {
      const response = await fetch("/api/l402/invoice-status", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ macaroon: purchase.macaroon }),
      });
      if (response.ok) {
        const status = await response.json();
        if (status.paid && status.preimage) {
          paid(status.preimage);
        } else if (status.paid) {
          $("pay-status").textContent = status.message || "The invoice is paid; paste the preimage from your wallet.";
        }
      }
    } catch { /* try again at the next tick */ } finally {
      asking = false;
    }
  };
  timers.push(setInterval(poll, 2000));
}

async function copyInvoice() {
  const invoice = purchase?.invoice;
  if (!invoice) return;
  try {
    await navigator.clipboard.writeText(invoice);
  } catch {
    $("invoice").select();
    document.execCommand("copy");
  }
  $("copy").textContent = "Copied";
  setTimeout(() => { $("copy").textContent = "Copy invoice"; }, 2000);
}

async function payWithWebln() {
  try {
    await window.webln.enable();
    const result = await window.webln.sendPayment(purchase.invoice);
    if (result?.preimage) paid(result.preimage);
  } catch (error) {
    showError(`The browser wallet did not pay: ${error?.message || error}. You can still scan the QR code.`);
  }
}

async function payWithDevWallet() {
  $("dev-pay").disabled = true;
  try {
    const response = await call("/dev/pay", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ invoice: purchase.invoice }),
    }, "The development wallet could not pay.");
    if (!response.ok) throw new Error(await errorText(response, "The development wallet could not pay."));
    const { preimage } = await response.json();
    paid(preimage);
  } catch (error) {
    showError(error.message);
  } finally {
    $("dev-pay").disabled = false;
  }
}

function paid(preimage) {
  if (!purchase || purchase.preimage) return;
  clearTimers();
  purchase.preimage = preimage;
  save();
  $("pay-status").textContent = "Paid.";
  redeem();
}

// ---------------------------------------------------------------------------------------------------------------
// 3. The paid job

function authorization() {
  return `L402 ${purchase.macaroon}:${purchase.preimage}`;
}

function showProgress(view) {
  show("step-progress");
  $("progress").hidden = false;
  setState("generating");
  const percent = Math.max(0, Math.min(100, Math.round(view.progress ?? 0)));
  const stage = view.state === "queued" ? stageText("queued") : stageText(view.stage);
  $("stage").textContent = `${stage}: ${percent}%`;
  $("progress").value = percent;
  $("progress-text").textContent = view.attempts > 1 ? `Attempt ${view.attempts}.` : "";
}

// Sends the paid request (asynchronously) and follows its job; with a status URL already known, only follows it.
async function redeem() {
  showError("");
  showProgress({ state: "queued", progress: 0 });
  try {
    let view;
    if (purchase.status_url) {
      view = await status();
    } else {
      if (!purchase.body) {
        throw new Error("The photo of this purchase was not kept by the browser. Choose the same photo and options and ask for the price: your payment stays valid for that request.");
      }
      const response = await call("/api/l402/3d-model", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: authorization(), Prefer: "respond-async" },
        body: purchase.body,
      }, "The paid request could not be sent; reload the page to try again (you will not pay twice).");
      if (response.status === 402) {
        throw new Error("The server did not accept the payment for this photo (it may have expired). Nothing more is charged; ask for a new price.");
      }
      if (response.status !== 200 && response.status !== 202) {
        throw new Error(await errorText(response, "The model could not be made."));
      }
      view = await response.json();
      if (view.status_url) purchase.status_url = view.status_url;
      save();
    }
    await follow(view);
  } catch (error) {
    failed(error.message);
  }
}

async function status() {
  const response = await call(purchase.status_url, { headers: { Authorization: authorization() } },
    "The progress could not be read; reload the page to try again (you will not pay twice).");
  if (!response.ok) throw new Error(await errorText(response, "The progress could not be read."));
  return response.json();
}

async function follow(view) {
  while (view.state === "queued" || view.state === "running") {
    showProgress(view);
    await new Promise((resolve) => setTimeout(resolve, view.poll_interval_ms || 1000));
    view = await status();
  }
  if (view.state === "succeeded") {
    purchase.model = view;
    delete purchase.body;
    save();
    showModel(view);
    return;
  }
  const message = view.error?.message
    || "The model could not be made. Your payment is still good: try again with the same payment.";
  failed(message, view.state === "failed");
  if (view.refund) showRefund(view.refund);
}

function failed(message, retryable = false) {
  show("step-progress");
  $("progress-text").textContent = "";
  $("stage").textContent = "The model could not be made.";
  $("progress").hidden = true;
  $("refund").hidden = true;
  showError(message);
  if (retryable && purchase) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "Try again (no new payment)";
    button.addEventListener("click", () => { purchase.status_url = null; redeem(); });
    $("error").append(" ", button);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 3b. The refund of a paid job that could not be delivered: claimed with the same credential and an invoice of
// the buyer's wallet for exactly the amount; the answer's preimage is the proof that the refund was paid.

let refundClaimUrl = null;

function showRefund(refund) {
  refundClaimUrl = refund.claim_url;
  $("refund").hidden = false;
  $("refund-again").hidden = true;
  $("refund-sats").textContent = refund.amount_sats;
  const form = $("refund-form");
  if (refund.state === "available") {
    $("refund-offer").textContent = `This server refunds ${refund.amount_sats} sats for a model it could not make. Claim them with an invoice of your wallet, or try again above.`;
    form.hidden = false;
    $("refund-dev-invoice").hidden = !config.dev_wallet;
    $("refund-status").textContent = refund.last_failure ? `An earlier claim was not paid: ${refund.last_failure}` : "";
    setState("refund-offered");
  } else if (refund.state === "pending") {
    $("refund-offer").textContent = `A refund of ${refund.amount_sats} sats is being paid.`;
    form.hidden = true;
    $("refund-status").textContent = "Waiting for the payment to complete…";
    setState("refund-pending");
  } else {
    $("refund-offer").textContent = `${refund.amount_sats} sats were refunded to your wallet.`;
    form.hidden = true;
    $("refund-status").textContent = `Proof of payment (preimage): ${refund.preimage}`;
    $("refund-again").hidden = false;
    $("error").hidden = true;
    setState("refunded");
  }
}

async function makeDevInvoice() {
  const amount_sats = Number($("refund-sats").textContent);
  try {
    const response = await call("/dev/invoice", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ amount_sats }),
    }, "The development wallet could not be reached.");
    if (!response.ok) throw new Error(await errorText(response, "The development wallet could not make an invoice."));
    $("refund-invoice").value = (await response.json()).invoice;
  } catch (error) {
    $("refund-status").textContent = error.message;
  }
}

async function claimRefund() {
  const invoice = $("refund-invoice").value.trim();
  if (!invoice) {
    $("refund-status").textContent = "Paste an invoice of your wallet first.";
    return;
  }
  $("refund-claim").disabled = true;
  $("refund-status").textContent = "Claiming…";
  try {
    for (;;) {
      const response = await call(refundClaimUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: authorization() },
        body: JSON.stringify({ invoice }),
      }, "The refund could not be claimed; try again (nothing is paid twice).");
      if (response.status === 202) {
        // Its payment's outcome is not known yet: the same claim is asked about again.
        showRefund((await response.json()).refund);
        await new Promise((resolve) => setTimeout(resolve, 1000 * Number(response.headers.get("Retry-After") || 5)));
        continue;
      }
      if (!response.ok) throw new Error(await errorText(response, "The refund was not paid."));
      showRefund((await response.json()).refund);
      return;
    }
  } catch (error) {
    $("refund-status").textContent = error.message;
  } finally {
    $("refund-claim").disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 4. The model

function showModel(view) {
  show("step-model");
  const viewer = $("viewer");
  // The viewer draws GLB: the model's own when it was asked for, else the same model's GLB among its files.
  const glbUrl = view.format === "glb" ? view.modelUrl : view.files?.glb;
  viewer.hidden = !glbUrl;
  $("no-preview").hidden = Boolean(glbUrl);
  document.querySelector(".viewer-controls").hidden = !glbUrl;
  const picture = $("model-picture");
  picture.hidden = Boolean(glbUrl) || !view.preview_url;
  if (view.preview_url) {
    picture.src = view.preview_url;
    // The picture shows while the viewer loads the model.
    viewer.poster = view.preview_url;
  }
  if (glbUrl) {
    viewer.addEventListener("load", () => setState("model-shown"), { once: true });
    viewer.addEventListener("error", () => showError("The model was made but this browser could not show it; download it below."), { once: true });
    viewer.src = glbUrl;
  } else {
    setState("model-shown");
  }
  const stats = $("stats");
  stats.replaceChildren();
  const rows = [
    ["Triangles", view.faces?.toLocaleString()], ["Vertices", view.vertices?.toLocaleString()],
    ["File size", view.bytes != null ? formatBytes(view.bytes) : null], ["Format", view.format?.toUpperCase()],
    ["SHA-256", view.sha256],
  ];
  for (const [name, value] of rows) {
    if (value == null) continue;
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value;
    stats.append(dt, dd);
  }
  const downloads = $("downloads");
  downloads.replaceChildren();
  // The format asked for first, then the same model in the other formats the one payment bought.
  const byFormat = { [view.format]: view.modelUrl, ...(view.files || {}) };
  const files = [];
  for (const [format, url] of Object.entries(byFormat)) {
    files.push([url, `Download ${format.toUpperCase()}`, `model.${format}`]);
    if (format === "obj") {
      const base = url.slice(0, url.lastIndexOf("/") + 1);
      files.push([`${base}model.mtl`, "Download MTL", "model.mtl"], [`${base}texture.jpg`, "Download texture", "texture.jpg"]);
    }
  }
  if (view.preview_url) files.push([view.preview_url, "Download picture", "preview.png"]);
  for (const [href, label, name] of files) {
    const link = document.createElement("a");
    link.className = "button";
    link.href = href;
    link.download = name;
    link.textContent = label;
    downloads.append(link);
  }
}

function resetView() {
  const viewer = $("viewer");
  viewer.cameraOrbit = "auto auto auto";
  viewer.cameraTarget = "auto auto auto";
  viewer.fieldOfView = "auto";
  viewer.jumpCameraToGoal();
}

function startOver() {
  clearTimers();
  purchase = null;
  save();
  showError("");
  $("viewer").removeAttribute("src");
  show("step-photo");
  setState(chosen ? "photo-chosen" : "ready");
}

// ---------------------------------------------------------------------------------------------------------------
// Wiring

function wire() {
  const drop = $("drop");
  $("file").addEventListener("change", (event) => choose(event.target.files[0]));
  drop.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      $("file").click();
    }
  });
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    choose(event.dataTransfer.files[0]);
  });
  document.addEventListener("paste", (event) => {
    const item = [...(event.clipboardData?.items || [])].find((entry) => entry.type.startsWith("image/"));
    if (item) choose(item.getAsFile());
  });
  $("quote").addEventListener("click", quote);
  $("copy").addEventListener("click", copyInvoice);
  $("pay-webln").addEventListener("click", payWithWebln);
  $("dev-pay").addEventListener("click", payWithDevWallet);
  $("cancel").addEventListener("click", startOver);
  $("again").addEventListener("click", startOver);
  $("reset").addEventListener("click", resetView);
  $("refund-claim").addEventListener("click", claimRefund);
  $("refund-again").addEventListener("click", startOver);
  $("refund-dev-invoice").addEventListener("click", makeDevInvoice);
  $("exposure").addEventListener("input", (event) => { $("viewer").exposure = Number(event.target.value); });
  $("rotate").addEventListener("change", (event) => { $("viewer").autoRotate = event.target.checked; });
}

// A purchase kept from an earlier visit: the model, the job, or the payment still to be made.
function resume() {
  let kept = null;
  try { kept = JSON.parse(localStorage.getItem(STORE_KEY) || "null"); } catch { /* ignore */ }
  if (!kept?.macaroon) return false;
  purchase = kept;
  if (purchase.preimage) {
    // Paid before: follow the job (or send the paid request again); the server never charges twice.
    redeem();
    return true;
  }
  if (Date.parse(purchase.expires_at) > Date.now()) {
    showPayment();
    return true;
  }
  purchase = null;
  save();
  return false;
}

wire();
await loadConfig();
if (!resume()) setState("ready");
