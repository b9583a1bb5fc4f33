#!/usr/bin/python3
"""Mints JSON Web Tokens with PyJWT (Debian's python3-jwt) for JwtVerifierTest.

Usage: jwt_mint.py '<json args>'   with args {"now": <unix seconds>}
Prints one JSON object: {"keys": {...}, "tokens": {name: token, ...}}.
Keys are fresh each run (RSA 2048, EC P-256, EC P-384, Ed25519, an HMAC secret); public keys are
given as PEM and as a JWK Set whose kids are rsa-1, p256-1, p384-1, ed-1 and hmac-1.
"""
import base64
import json
import secrets
import sys

import jwt
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, OKPAlgorithm, RSAAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pem_public(private_key, fmt=serialization.PublicFormat.SubjectPublicKeyInfo) -> str:
    return private_key.public_key().public_bytes(serialization.Encoding.PEM, fmt).decode()


class LaxHMAC(HMACAlgorithm):
    """PyJWT's HMAC without its guard against PEM secrets: the algorithm-confusion attacker's tool."""

    def prepare_key(self, key):
        return key if isinstance(key, bytes) else key.encode()


def main() -> None:
    args = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    now = int(args.get("now", 1700000000))

    hmac_secret = secrets.token_bytes(32)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    p256_key = ec.generate_private_key(ec.SECP256R1())
    p384_key = ec.generate_private_key(ec.SECP384R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    other_rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(algorithm, key, kid, alg=None):
        obj = json.loads(algorithm.to_jwk(key))
        obj["kid"] = kid
        obj["use"] = "sig"
        if alg:
            obj["alg"] = alg
        return obj

    jwks = {"keys": [
        jwk(RSAAlgorithm, rsa_key.public_key(), "rsa-1"),
        jwk(ECAlgorithm, p256_key.public_key(), "p256-1"),
        jwk(ECAlgorithm, p384_key.public_key(), "p384-1"),
        jwk(OKPAlgorithm, ed_key.public_key(), "ed-1"),
        jwk(HMACAlgorithm, hmac_secret, "hmac-1"),
        # The same RSA key restricted to RS256 by its "alg".
        jwk(RSAAlgorithm, rsa_key.public_key(), "rsa-rs256-only", "RS256"),
        # Keys a verifier must skip: an encryption key and a curve it does not support.
        dict(jwk(RSAAlgorithm, other_rsa_key.public_key(), "rsa-enc"), use="enc"),
        json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP521R1()).public_key())),
    ]}

    signing = {
        "HS256": (hmac_secret, "hmac-1"), "HS384": (hmac_secret, "hmac-1"), "HS512": (hmac_secret, "hmac-1"),
        "RS256": (rsa_key, "rsa-1"), "RS384": (rsa_key, "rsa-1"), "RS512": (rsa_key, "rsa-1"),
        "PS256": (rsa_key, "rsa-1"), "ES256": (p256_key, "p256-1"), "ES384": (p384_key, "p384-1"),
        "EdDSA": (ed_key, "ed-1"),
    }
    claims = {"sub": "alice", "iat": now, "exp": now + 3600, "iss": "https://issuer.example",
              "aud": "switchboard", "name": "Alice"}

    tokens = {}
    for alg, (key, kid) in signing.items():
        tokens[alg] = jwt.encode(claims, key, algorithm=alg)
        tokens["kid:" + alg] = jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})

    def hs(payload, headers=None):
        return jwt.encode(payload, hmac_secret, algorithm="HS256", headers=headers)

    tokens["PS256_kid_rs256_only"] = jwt.encode(claims, rsa_key, algorithm="PS256",
                                                headers={"kid": "rsa-rs256-only"})
    tokens["RS256_kid_rs256_only"] = jwt.encode(claims, rsa_key, algorithm="RS256",
                                                headers={"kid": "rsa-rs256-only"})
    tokens["ES256_by_other_key"] = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()),
                                              algorithm="ES256")
    tokens["ES384_kid_p256"] = jwt.encode(claims, p384_key, algorithm="ES384", headers={"kid": "p256-1"})
    # A P-256 key whose x starts with a zero byte: PyJWT's to_jwk strips it (x is then 31 bytes).
    while True:
        short_x_key = ec.generate_private_key(ec.SECP256R1())
        if short_x_key.public_key().public_numbers().x < (1 << 248):
            break
    jwks["keys"].append(jwk(ECAlgorithm, short_x_key.public_key(), "p256-short-x"))
    tokens["ES256_short_x"] = jwt.encode(claims, short_x_key, algorithm="ES256", headers={"kid": "p256-short-x"})
    tokens["none"] = jwt.encode(claims, None, algorithm="none")

    # Algorithm confusion: HS256 keyed with the RSA public key's PEM.
    lax = jwt.PyJWS()
    lax.unregister_algorithm("HS256")
    lax.register_algorithm("HS256", LaxHMAC(LaxHMAC.SHA256))
    rsa_pem = pem_public(rsa_key)
    confusion_payload = json.dumps(claims, separators=(",", ":")).encode()
    tokens["confusion"] = lax.encode(confusion_payload, rsa_pem.encode(), algorithm="HS256")
    tokens["confusion_kid"] = lax.encode(confusion_payload, rsa_pem.encode(), algorithm="HS256",
                                         headers={"kid": "rsa-1"})

    tokens["expired"] = hs(dict(claims, exp=now - 3600))
    tokens["exp_10s_ago"] = hs(dict(claims, exp=now - 10))
    tokens["nbf_future"] = hs(dict(claims, nbf=now + 3600))
    tokens["nbf_in_10s"] = hs(dict(claims, nbf=now + 10))
    tokens["aud_array"] = hs(dict(claims, aud=["other", "switchboard"]))
    tokens["aud_bad_type"] = hs(dict(claims, aud=["switchboard", 7]))
    tokens["no_aud"] = hs({k: v for k, v in claims.items() if k != "aud"})
    tokens["no_iss"] = hs({k: v for k, v in claims.items() if k != "iss"})
    tokens["no_sub"] = hs({k: v for k, v in claims.items() if k != "sub"})
    tokens["empty_sub"] = hs(dict(claims, sub=""))
    tokens["numeric_sub"] = hs(dict(claims, sub=42))
    tokens["no_exp"] = hs({k: v for k, v in claims.items() if k != "exp"})
    tokens["exp_string"] = hs(dict(claims, exp=str(now + 3600)))
    tokens["exp_float"] = hs(dict(claims, exp=now + 3600.5))
    tokens["exp_huge"] = hs(dict(claims, exp=1e300))
    tokens["iat_string"] = hs(dict(claims, iat="yesterday"))
    tokens["unknown_kid"] = hs(claims, headers={"kid": "nope"})
    tokens["crit"] = hs(claims, headers={"crit": ["exp"]})

    # Hand-made pieces PyJWT will not produce, each signed correctly so that only the defect shows.
    def hs_raw(header_b64: str, payload_b64: str) -> str:
        import hashlib
        import hmac
        signing_input = (header_b64 + "." + payload_b64).encode()
        return header_b64 + "." + payload_b64 + "." + b64url(
            hmac.new(hmac_secret, signing_input, hashlib.sha256).digest())

    payload_b64 = b64url(json.dumps(claims).encode())
    tokens["header_not_json"] = hs_raw(b64url(b"{alg: HS256"), payload_b64)
    tokens["header_array"] = hs_raw(b64url(b'["HS256"]'), payload_b64)
    tokens["header_no_alg"] = hs_raw(b64url(b'{"typ":"JWT"}'), payload_b64)
    tokens["header_alg_number"] = hs_raw(b64url(b'{"alg":256}'), payload_b64)
    tokens["payload_not_json"] = hs_raw(b64url(b'{"alg":"HS256"}'), b64url(b"sub=alice"))
    tokens["payload_array"] = hs_raw(b64url(b'{"alg":"HS256"}'), b64url(b'["alice"]'))
    tokens["kid_not_string"] = hs_raw(b64url(b'{"alg":"HS256","kid":5}'), payload_b64)
    tokens["alg_NoNe"] = b64url(b'{"alg":"NoNe"}') + "." + payload_b64 + "."
    tokens["alg_HS1"] = hs_raw(b64url(b'{"alg":"HS1"}'), payload_b64)
    tokens["alg_hs256_lowercase"] = hs_raw(b64url(b'{"alg":"hs256"}'), payload_b64)

    keys = {
        "hmac_secret_b64": b64url(hmac_secret),
        "rsa_pem": rsa_pem,
        "rsa_pkcs1_pem": pem_public(rsa_key, serialization.PublicFormat.PKCS1),
        "p256_pem": pem_public(p256_key),
        "p384_pem": pem_public(p384_key),
        "ed25519_pem": pem_public(ed_key),
        "small_rsa_pem": pem_public(rsa.generate_private_key(public_exponent=65537, key_size=1024)),
        "p521_pem": pem_public(ec.generate_private_key(ec.SECP521R1())),
        "jwks": jwks,
    }
    json.dump({"keys": keys, "tokens": tokens, "now": now}, sys.stdout)


if __name__ == "__main__":
    main()
