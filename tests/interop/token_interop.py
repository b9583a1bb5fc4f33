#!/usr/bin/python3
"""Tokens across implementations, against the real switchboard executable:
- `switchboard gentoken` mints tokens that PyJWT (Debian's python3-jwt) verifies;
- a JWKS file of RSA keys is read again on SIGHUP (key rotation), with PyJWT's RS256 tokens;
- dev mode's GET /dev/token gives tokens the node accepts;
- a backend publishes over HTTP with an API key, and a websockets client receives it."""
import asyncio
import base64
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import jwt
import websockets
from cryptography.hazmat.primitives.asymmetric import rsa

BIN = sys.argv[1]
TIMEOUT = 10
SECRET = "token-interop-secret-0123456789"
API_KEY = "interop-api-key-0123456789abcdef"


def start_node(*args, env=None):
    node = subprocess.Popen(
        [BIN, "--bind", "127.0.0.1", "--port", "0", "--threads", "2", "--drain-delay-ms", "0", *args],
        stderr=subprocess.PIPE, text=True, env=env)
    for line in node.stderr:
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if m:
            return node, int(m.group(1))
    raise SystemExit("node exited before listening: status %s" % node.wait())


def stop(node):
    node.terminate()
    try:
        assert node.wait(timeout=TIMEOUT) == 0
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()


def wait_for_log(node, pattern):
    for line in node.stderr:
        if re.search(pattern, line):
            return line
    raise AssertionError("node exited before logging %r" % pattern)


async def recv_json(ws):
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def handshake_status(url):
    """101 when the upgrade is accepted, else the HTTP status of the refusal."""
    try:
        async with websockets.connect(url, open_timeout=TIMEOUT):
            return 101
    except websockets.InvalidStatusCode as refused:
        return refused.status_code


def gentoken(*args, env_secret=SECRET):
    env = dict(os.environ)
    env.pop("SWITCHBOARD_JWT_SECRET", None)
    if env_secret:
        env["SWITCHBOARD_JWT_SECRET"] = env_secret
    return subprocess.run([BIN, "gentoken", *args], capture_output=True, text=True, env=env, timeout=TIMEOUT)


def check_gentoken():
    done = gentoken("--user", "alice", "--ttl", "2h", "--rooms", '{"sub":["chat:*"],"pub":["chat:*"]}',
                    "--info", '{"name":"Alice"}')
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["sub"] == "alice" and claims["info"] == {"name": "Alice"}, claims
    assert claims["rooms"] == {"sub": ["chat:*"], "pub": ["chat:*"]}, claims
    assert abs(claims["exp"] - time.time() - 7200) < 60, claims
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    # Bad usage is a clear error with status 2.
    assert gentoken("--user", "alice", env_secret=None).returncode == 2
    assert gentoken("--ttl", "1h").returncode == 2
    assert gentoken("--user", "a", "--ttl", "soon").returncode == 2
    assert gentoken("--user", "a", "--rooms", '{"sub":"x"}').returncode == 2
    # A service's token with its own rate limits (honoured by nodes with --token-limits).
    limited = gentoken("--user", "notifier", "--limits", '{"publish_rate":5000,"publish_burst":10000}')
    assert limited.returncode == 0, limited.stderr
    claims = jwt.decode(limited.stdout.strip(), SECRET, algorithms=["HS256"])
    assert claims["limits"] == {"publish_rate": 5000, "publish_burst": 10000}, claims
    assert gentoken("--user", "a", "--limits", '{"publish_rate":"fast"}').returncode == 2
    return token


async def gentoken_session(port, token):
    url = "ws://127.0.0.1:%d/ws?token=%s" % (port, token)
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"op": "subscribe", "id": 1, "room": "chat:lobby"}))
        reply = await recv_json(ws)
        assert reply["id"] == 1 and reply["ok"] is True and reply["offset"] == 0, reply
        await ws.send(json.dumps({"op": "subscribe", "id": 2, "room": "staff"}))
        assert (await recv_json(ws))["error"]["code"] == "forbidden"
        # A backend publishes over HTTP with an API key.
        req = urllib.request.Request("http://127.0.0.1:%d/api/publish" % port, method="POST",
                                     data=json.dumps({"room": "chat:lobby", "data": {"text": "deploy done"}}).encode(),
                                     headers={"Authorization": "Bearer " + API_KEY,
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=TIMEOUT) as res:
            assert res.status == 200 and json.load(res) == {"ok": True, "offset": 1}
        assert await recv_json(ws) == {"type": "message", "room": "chat:lobby",
                                       "data": {"text": "deploy done"}, "from": "server", "offset": 1}
        req.headers["Authorization"] = "Bearer wrong-key-0123456789abcdef"
        try:
            urllib.request.urlopen(req, timeout=TIMEOUT)
            raise AssertionError("a wrong API key was accepted")
        except urllib.error.HTTPError as refused:
            assert refused.code == 401, refused


def rsa_jwk(kid):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()
    b64 = lambda n: base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
    return key, {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(numbers.n), "e": b64(numbers.e)}


def check_jwks_rotation():
    key1, jwk1 = rsa_jwk("2026-a")
    key2, jwk2 = rsa_jwk("2026-b")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"keys": [jwk1]}, f)
        path = f.name
    node, port = start_node("--jwks", path)
    try:
        url = "ws://127.0.0.1:%d/ws?token=" % port
        mint = lambda key, kid: jwt.encode({"sub": "svc", "exp": int(time.time()) + 60}, key,
                                           algorithm="RS256", headers={"kid": kid})
        assert asyncio.run(handshake_status(url + mint(key1, "2026-a"))) == 101
        assert asyncio.run(handshake_status(url + mint(key2, "2026-b"))) == 401
        with open(path, "w") as f:
            json.dump({"keys": [jwk2]}, f)
        node.send_signal(signal.SIGHUP)
        wait_for_log(node, r"JWT keys reloaded")
        assert asyncio.run(handshake_status(url + mint(key2, "2026-b"))) == 101
        assert asyncio.run(handshake_status(url + mint(key1, "2026-a"))) == 401
        with open(path, "w") as f:
            f.write("{ broken")
        node.send_signal(signal.SIGHUP)
        wait_for_log(node, r"reload failed")
        assert asyncio.run(handshake_status(url + mint(key2, "2026-b"))) == 101  # the good keys stay
    finally:
        stop(node)
        os.unlink(path)


def check_dev_mode():
    node, port = start_node("--dev", env={k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")})
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/dev/token?user=Ana" % port, timeout=TIMEOUT) as res:
            body = json.load(res)
        assert body["user"] == "Ana" and body["expires_in"] == 900, body
        url = "ws://127.0.0.1:%d/ws" % port
        assert asyncio.run(handshake_status(url + "?token=" + body["token"])) == 101
        assert asyncio.run(handshake_status(url)) == 401
    finally:
        stop(node)


def main():
    token = check_gentoken()
    env = dict(os.environ, SWITCHBOARD_JWT_SECRET=SECRET, SWITCHBOARD_API_KEYS=API_KEY)
    node, port = start_node(env=env)
    try:
        asyncio.run(gentoken_session(port, token))
    finally:
        stop(node)
    check_jwks_rotation()
    check_dev_mode()
    print("4 passed, 0 failed")


if __name__ == "__main__":
    main()
