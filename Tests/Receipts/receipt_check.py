#!/usr/bin/env python3
"""Checks a signed receipt with code that is not the project's own.

Called by Tests/SyncServerTests/Receipts/SignedReceiptTests.swift with a receipt
exported by `field receipt export` and the keys `GET /v1/keys` serves:

  receipt_check.py RECEIPT.json KEYS.json

The receipt is a JWS in its flattened JSON serialization (RFC 7515 7.2.2)
signed with EdDSA over Ed25519 (RFC 8037); each key is a JWK whose `kid` is
its RFC 7638 thumbprint. This script checks all of that with Python's
`cryptography` (OpenSSL) and the standard library only, then prints the
payload's receipt code, device and change count. Exits 1 with one line on
the first failure.
"""
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def fail(message):
    print(f"FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def main(receipt_path, keys_path):
    jws = json.load(open(receipt_path, encoding="utf-8"))
    keys = json.load(open(keys_path, encoding="utf-8"))["keys"]
    header = json.loads(b64url(jws["protected"]))
    if header.get("alg") != "EdDSA":
        fail(f"alg is {header.get('alg')!r}, not EdDSA")
    by_kid = {}
    for key in keys:
        if key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
            fail(f"key {key.get('kid')!r} is not an Ed25519 OKP key")
        canonical = json.dumps({"crv": key["crv"], "kty": key["kty"], "x": key["x"]}, separators=(",", ":"), sort_keys=True)
        thumbprint = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
        if thumbprint != key["kid"]:
            fail(f"key {key['kid']!r} is not its RFC 7638 thumbprint ({thumbprint})")
        by_kid[key["kid"]] = key
    key = by_kid.get(header.get("kid"))
    if key is None:
        fail(f"signed by {header.get('kid')!r}, which is not among the keys")
    public = Ed25519PublicKey.from_public_bytes(b64url(key["x"]))
    try:
        public.verify(b64url(jws["signature"]), f"{jws['protected']}.{jws['payload']}".encode("ascii"))
    except InvalidSignature:
        fail("the signature does not match")
    payload = json.loads(b64url(jws["payload"]))
    if payload.get("type") != "field-sync/receipt" or payload.get("version") != 1:
        fail(f"the payload is not a version 1 receipt: {payload.get('type')!r} {payload.get('version')!r}")
    for referral in payload["referrals"]:
        for change in referral["changes"]:
            if len(change["sha256"]) != 64 or any(c not in "0123456789abcdef" for c in change["sha256"]):
                fail(f"change {change['seq']} has no SHA-256")
    changes = sum(len(r["changes"]) for r in payload["referrals"])
    print(f"ok {payload['receipt']} {payload['device']} {changes} {payload['audit']['position'] if payload.get('audit') else '-'}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        fail("usage: receipt_check.py RECEIPT.json KEYS.json")
    main(sys.argv[1], sys.argv[2])
