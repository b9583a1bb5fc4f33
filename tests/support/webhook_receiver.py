#!/usr/bin/env python3
"""A webhook receiver for the tests: verifies each POST's signature with Python's own hmac
module, the way an application's backend would, and reports every batch as one JSON line on
stdout: {"verified": bool, "why": str, "events": [...], "peer_port": int}.

  webhook_receiver.py --port P --secret S [--cert C --key K] [--hang] [--status N] [--delay-ms M]

Prints "listening <port>" once it accepts connections. Answers 204 to a verified batch and 401
to a forged or stale one; with --hang it reads each batch, reports it, and never answers; with
--status N it answers N to every batch; with --delay-ms M it answers each M ms after reporting it."""
import argparse
import hashlib
import hmac
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE = 300  # seconds between the signature's timestamp and now: older is a replay


def verify(secret, timestamp, signature, body):
    """The receiver's check, as PROTOCOL.md documents it."""
    if not timestamp or not signature:
        return False, "unsigned"
    try:
        if abs(time.time() - int(timestamp)) > TOLERANCE:
            return False, "stale timestamp"
    except ValueError:
        return False, "bad timestamp"
    expected = "v1=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return False, "bad signature"
    return True, ""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--status", type=int, default=0)
    parser.add_argument("--delay-ms", type=int, default=0)
    args = parser.parse_args()
    secret = args.secret.encode()
    out = threading.Lock()
    never = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            ok, why = verify(secret, self.headers.get("X-Switchboard-Timestamp"),
                             self.headers.get("X-Switchboard-Signature"), body)
            try:
                events = json.loads(body)["events"]
            except (ValueError, KeyError, TypeError):
                ok, why, events = False, "not a batch", []
            line = json.dumps({"verified": ok, "why": why, "events": events, "peer_port": self.client_address[1]})
            with out:
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
            if args.hang:
                never.wait()
            never.wait(args.delay_ms / 1000)
            self.send_response(args.status or (204 if ok else 401))
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    with out:
        sys.stdout.write("listening %d\n" % server.server_address[1])
        sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
