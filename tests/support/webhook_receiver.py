#!/usr/bin/env python3
"""The application's backend for the tests: verifies each POST's signature with Python's own hmac
module, the way an application's backend would, and reports every request as one JSON line on
stdout: {"verified": bool, "why": str, "path": str, "events": [...], "request": {...},
"peer_port": int} ("events" for a webhook batch, "request" for a proxy call).

  webhook_receiver.py --port P --secret S [--cert C --key K] [--hang] [--status N] [--delay-ms M]

Prints "listening <port>" once it accepts connections. A webhook batch (any path but /proxy/…)
is answered 204 when verified and 401 when forged or stale. The proxy's calls, to
/proxy/connect, /proxy/subscribe and /proxy/publish, are answered as a chat application would:
  connect: a Cookie "session=<user>" signs in <user> (info {"name": <User>}, rooms chat:* to
  subscribe, publish and see presence in, "expires_at" when the query has expires_at=<unix>),
  "session=banned" is refused 403 ("banned"), no session 401 ("sign in first");
  subscribe: rooms "secret:…" refused ("members only"), others allowed;
  publish: data that contains "darn" refused ("watch your language"); in rooms "stamped:…"
  allowed with other data, {"text": <the data>, "stamped": <how many it stamped>}; in rooms
  "garbled:…" answered with text that is not JSON; others allowed.
With --hang it reads each request, reports it, and never answers; with --status N it answers N
to every request; with --delay-ms M it answers each M ms after reporting it."""
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
    stamped = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            ok, why = verify(secret, self.headers.get("X-Switchboard-Timestamp"),
                             self.headers.get("X-Switchboard-Signature"), body)
            report = {"verified": ok, "why": why, "path": self.path, "peer_port": self.client_address[1]}
            proxied = self.path.startswith("/proxy/")
            try:
                if proxied:
                    report["request"] = json.loads(body)
                else:
                    report["events"] = json.loads(body)["events"]
            except (ValueError, KeyError, TypeError):
                ok = report["verified"] = False
                report["why"] = "not a request" if proxied else "not a batch"
                report.setdefault("events", [])
            with out:
                sys.stdout.write(json.dumps(report) + "\n")
                sys.stdout.flush()
            if args.hang:
                never.wait()
            never.wait(args.delay_ms / 1000)
            status, answer = args.status or (204 if ok else 401), b""
            if proxied and ok and not args.status:
                status, answer = 200, self.proxy_answer(report["request"])
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def proxy_answer(self, request):
            if self.path == "/proxy/connect":
                return json.dumps(self.connect_answer(request)).encode()
            room = request.get("room", "")
            if self.path == "/proxy/subscribe":
                if room.startswith("secret:"):
                    return json.dumps({"allow": False, "message": "members only"}).encode()
                return b'{"allow": true}'
            if "darn" in json.dumps(request.get("data")):
                return json.dumps({"allow": False, "message": "watch your language"}).encode()
            if room.startswith("garbled:"):
                return b"<html>not json</html>"
            if room.startswith("stamped:"):
                with out:
                    stamped[0] += 1
                    n = stamped[0]
                return json.dumps({"allow": True, "data": {"text": request.get("data"), "stamped": n}}).encode()
            return b'{"allow": true}'

        def connect_answer(self, request):
            cookies = dict(part.strip().split("=", 1) for part in request["headers"].get("cookie", "").split(";")
                           if "=" in part)
            user = cookies.get("session")
            if not user:
                return {"allow": False, "status": 401, "message": "sign in first"}
            if user == "banned":
                return {"allow": False, "status": 403, "message": "banned"}
            chat = ["chat:*"]
            answer = {"allow": True, "user": user, "info": {"name": user.capitalize()},
                      "rooms": {"sub": chat, "pub": chat, "presence": chat}}
            query = dict(part.split("=", 1) for part in request.get("query", "").split("&") if "=" in part)
            if "expires_at" in query:
                answer["expires_at"] = int(query["expires_at"])
            return answer

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
