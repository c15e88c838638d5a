#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target under fuzz/corpus/<target>/ (ignored by git): valid and nearly valid
inputs that take the fuzzer past the first checks. Run from anywhere; needs only Python's standard library and the
repository's own fixtures."""

import base64
import json
import pathlib
import re
import struct
import zlib

ROOT = pathlib.Path(__file__).resolve().parent
FIXTURES = ROOT.parent / "crates" / "mesh" / "tests" / "fixtures"
CORPUS = ROOT / "corpus"

# A signed regtest invoice for 10,000 msat (the one crates/ln/tests/invoice_properties.rs reads).
INVOICE = (
    "lnbcrt100n1p3qqkygpp5xzj85m5mpvatnapgpuyfxtxhypa5gr6sskqd8664v04550vqp8lsdq8f3f5z4qcqzpgsp5tpzvsq5pckqgln3ltpy3e9"
    "cf6tf2aj82ffa2tted77ltweuaweks9qyyssq0w5da3k40wtdukac7hp5s58hsxf8k8f52c5qneezu4xg3xh87xrnkl5jwtw098d2gjywx20nmkx"
    "l2y4vq9fr89kg5kzcwupv9xpdaggp4fc4ms"
)
# The V2 macaroon of L402's test vector 3 (base64).
MACAROON = (
    "AgEEbHNhdAJCAAAwpHpumws6ufQoDwiTLNcge0QPUIWA0+tVY+tKPYAJ/zSfmEGlIpNm3VzxuzCqLhEp5KGiyPLUM9L+kcB7uzS+AAIPc2VydmljZ"
    "XM9bWVtZTowAAISbWVtZV9jYXBhYmlsaXRpZXM9AAAGILA1VCEIExukt4nG+XR9tX8WJ2BVMiHG3UNt1uYJ+NRD"
)


def png(width, height, pixel):
    """A grey PNG whose pixel (x, y) is pixel(x, y), 0..255."""
    rows = b"".join(b"\0" + bytes(pixel(x, y) for x in range(width)) for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def disc(width, height):
    cx, cy, r = width // 2, height // 2, min(width, height) // 3
    return png(width, height, lambda x, y: 40 if (x - cx) ** 2 + (y - cy) ** 2 < r * r else 220)


def jpeg_declaring(data, width, height):
    """The JPEG `data` with its frame header claiming another size (the scan then no longer fits it)."""
    i = 2
    while i < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
        if marker in (0xC0, 0xC2):
            return data[: i + 5] + struct.pack(">HH", height, width) + data[i + 9 :]
        i += 2 + length
    raise ValueError("no frame header")


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def mpp_vector(name):
    """A constant of the `Payment` scheme's worked example (crates/mpp/src/vectors.rs)."""
    text = (ROOT.parent / "crates" / "mpp" / "src" / "vectors.rs").read_text()
    match = re.search(rf'const {name}: &str = "([^"]*)";', text)
    if match is None:
        raise ValueError(f"{name} not found in vectors.rs")
    return match.group(1)


def main():
    small_png = disc(64, 48)
    large_png = disc(2048, 1100)
    teal = (FIXTURES / "scenes" / "uniform_teal.jpg").read_bytes()
    webp = (FIXTURES / "horse-lossy.webp").read_bytes()
    images = {
        "small.png": small_png,
        "large.png": large_png,
        "shapes.png": (FIXTURES / "scenes" / "shapes_six_black.png").read_bytes(),
        "teal.jpg": teal,
        "text.jpg": (FIXTURES / "scenes" / "text_white_on_black.jpg").read_bytes(),
        "large-declared.jpg": jpeg_declaring(teal, 2400, 1600),
        "horse.webp": webp,
    }
    for name, data in images.items():
        write("image_preflight", name, data)

    uri = lambda kind, data: f"data:{kind};base64," + base64.b64encode(data).decode()
    bodies = [
        {"image": uri("image/png", small_png)},
        {"image": uri("image/jpeg", teal), "format": "obj", "target_faces": 5000},
        {"image": uri("image/webp", webp), "depth": 0.4, "texture_size": 512},
        {"image": "data:image/png;charset=utf-8;base64,iVBORw0KGgo"},
        {"image": "DATA:IMAGE/PNG;BASE64,iVBORw0KGgo="},
        {"prompt": "a red teapot"},
        {"image": None, "prompt": "a chair", "format": "glb"},
        {"image": 7},
        {"image": "data:image/gif;base64,R0lGODlh"},
    ]
    for i, body in enumerate(bodies):
        write("model_request", f"body-{i}.json", json.dumps(body))
    write("model_request", "not-json", "{\"image\": \"data:")

    for name, text in [("invoice", INVOICE), ("uppercase", INVOICE.upper()), ("truncated", INVOICE[:120])]:
        write("invoice_reader", name, text)

    write("endpoint_bodies", "refund", b"\0" + json.dumps({"invoice": INVOICE}).encode())
    write("endpoint_bodies", "refund-extra", b"\0" + json.dumps({"invoice": INVOICE, "amount": 1}).encode())
    write("endpoint_bodies", "status", b"\1" + json.dumps({"macaroon": MACAROON}).encode())
    write("endpoint_bodies", "status-urlsafe", b"\1" + json.dumps({"macaroon": MACAROON.replace("+", "-")}).encode())

    request, credential = mpp_vector("WORKED_REQUEST"), mpp_vector("WORKED_CREDENTIAL")
    challenge = (
        'Payment id="hJBz2lzEYaVEIqPeg5uNQ-Qmp5lhezjw5qP3UF-3WPc", realm="mesh402.example", method="lightning", '
        f'intent="charge", request="{request}", expires="2026-09-01T12:15:00Z"'
    )
    write("payment_parsers", "challenge", challenge)
    write("payment_parsers", "two-schemes", f'L402 macaroon="{MACAROON}", invoice="{INVOICE}", {challenge}')
    write("payment_parsers", "authorization", f"Payment {credential}")
    write("payment_parsers", "accept-payment", "lightning/charge, tempo/*;q=0.5, */*;q=0.1")

    write("macaroon_decoder", "tv3", base64.b64decode(MACAROON))
    write("credential_parser", "l402", f"L402 {MACAROON}:" + "00" * 32)
    write("credential_parser", "lsat", f"LSAT {MACAROON}:" + "ab" * 32 + "\nMacaroon " + MACAROON)
    write("credential_parser", "challenge", f'L402 macaroon="{MACAROON}", invoice="{INVOICE}"')


if __name__ == "__main__":
    main()
