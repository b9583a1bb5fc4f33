"""wss:// and https:// with a certificate of the test's own (openssl), trusted through ssl=."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path
from typing import List

import pytest

import switchboard
from conftest import API_KEY, Nodes, fast, next_of, run, token, within


@pytest.fixture
def certificate(tmp_path: Path) -> Path:
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return tmp_path


def test_wss_and_https(nodes: Nodes, certificate: Path) -> None:
    node = nodes.start("--tls-port", "0", "--tls-cert", str(certificate / "cert.pem"),
                       "--tls-key", str(certificate / "key.pem"))
    assert node.tls_port

    async def main() -> None:
        trusted = ssl.create_default_context(cafile=str(certificate / "cert.pem"))
        async with switchboard.Client(f"wss://127.0.0.1:{node.tls_port}/ws", token=token("mia"), ssl=trusted,
                                      **fast()) as client:
            room = await within(client.subscribe("chat:tls"))
            api = switchboard.Api(f"https://127.0.0.1:{node.tls_port}", api_key=API_KEY, ssl=trusted)
            assert (await within(api.publish("chat:tls", "over https"))).offset == 1
            message = await next_of(room, switchboard.Message)
            assert (message.data, message.sender) == ("over https", "server")
            assert [m.data for m in (await within(api.history("chat:tls"))).messages] == ["over https"]

        # Without the certificate trusted: the handshake fails, and says why.
        closes: List[switchboard.Disconnection] = []
        failed = asyncio.Event()

        def on_disconnect(d: switchboard.Disconnection) -> None:
            closes.append(d)
            failed.set()

        client = switchboard.Client(f"wss://127.0.0.1:{node.tls_port}/ws", token=token("mia"),
                                    on_disconnect=on_disconnect, **fast())
        connecting = asyncio.ensure_future(client.connect())
        try:
            await within(failed.wait())
            assert "CERTIFICATE_VERIFY_FAILED" in closes[0].reason and closes[0].will_reconnect
            assert not connecting.done()
        finally:
            await within(client.close())
        with pytest.raises(switchboard.Closed):
            await within(connecting)
        with pytest.raises(switchboard.Error) as unverified:
            await within(switchboard.Api(f"https://127.0.0.1:{node.tls_port}", api_key=API_KEY).presence("chat:tls"))
        assert unverified.value.code == "unreachable" and "CERTIFICATE_VERIFY_FAILED" in unverified.value.message

    run(main())
