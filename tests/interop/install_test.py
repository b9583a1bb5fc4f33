#!/usr/bin/python3
"""The installed node: `cmake --install BUILD --prefix TMP` lays out TMP/bin/switchboard and the web
client's files under TMP/share/switchboard/web-client/, and TMP/bin/switchboard, started without
--static-dir from another working directory, serves them: the demo page at /, the client module
and its src/. The installed demo page is marked first, so that a page served from the source tree
would not pass. Usage: install_test.py CMAKE BUILD_DIR"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request

CMAKE, BUILD = sys.argv[1], sys.argv[2]
TIMEOUT = 20
MARK = "<!-- installed copy -->"


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=TIMEOUT) as response:
        return response.status, response.read().decode()


def start_node(binary, cwd):
    node = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", "0", "--threads", "1", "--allow-anonymous",
                             "--drain-delay-ms", "0"], cwd=cwd, stderr=subprocess.PIPE, text=True)
    for line in node.stderr:
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if m:
            return node, int(m.group(1))
    raise SystemExit("the installed node exited before listening: status %s" % node.wait(TIMEOUT))


def main():
    prefix = tempfile.mkdtemp(prefix="switchboard-install-")
    node = None
    try:
        subprocess.run([CMAKE, "--install", BUILD, "--prefix", prefix], check=True, stdout=subprocess.DEVNULL,
                       timeout=TIMEOUT)
        web = os.path.join(prefix, "share", "switchboard", "web-client")
        for path in ["switchboard.js", "switchboard.d.ts", "src/client.js", "demo/index.html", "demo/app.js",
                     "admin/index.html", "admin/admin.js", "admin/admin.css"]:
            assert os.path.isfile(os.path.join(web, path)), "not installed: " + path
        assert not os.path.exists(os.path.join(web, "test")), "the web client's tests were installed"
        with open(os.path.join(web, "demo", "index.html"), "a") as page:
            page.write(MARK + "\n")

        node, port = start_node(os.path.join(prefix, "bin", "switchboard"), cwd=prefix)
        status, body = get(port, "/")
        assert status == 200 and MARK in body, (status, body[-200:])
        for path in ["/switchboard.js", "/switchboard.d.ts", "/src/client.js", "/demo/app.js"]:
            status, _ = get(port, path)
            assert status == 200, (path, status)
        node.send_signal(signal.SIGTERM)
        assert node.wait(TIMEOUT) == 0
        node = None
        print("install: the installed node serves its web client")
    finally:
        if node is not None:
            node.kill()
            node.wait()
        shutil.rmtree(prefix, ignore_errors=True)


if __name__ == "__main__":
    main()
