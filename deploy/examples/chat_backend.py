"""A chat backend for Switchboard's publish proxy: stores every message, refuses one word."""
import hashlib, hmac, json, os, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ["SWITCHBOARD_PROXY_SECRET"].encode()
STORE = open(sys.argv[2] if len(sys.argv) > 2 else "messages.jsonl", "a")

class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the node reuses its connections

    def do_POST(self):
        body, ts = self.rfile.read(int(self.headers["Content-Length"])), self.headers["X-Switchboard-Timestamp"]
        mac = "v1=" + hmac.new(SECRET, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, self.headers["X-Switchboard-Signature"]) or abs(time.time() - int(ts)) > 300:
            return self.answer(401, {})
        message = json.loads(body)
        if "darn" in json.dumps(message["data"]).lower():
            return self.answer(200, {"allow": False, "message": "please keep it friendly"})
        STORE.write(json.dumps(message) + "\n"); STORE.flush()
        self.answer(200, {"allow": True})

    def answer(self, status, doc):
        out = json.dumps(doc).encode()
        self.send_response(status); self.send_header("Content-Length", str(len(out))); self.end_headers(); self.wfile.write(out)

server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 9000), Proxy)
print("listening", server.server_address[1], flush=True); server.serve_forever()
