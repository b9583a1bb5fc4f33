"""The package: its README's example against a --dev node, its LICENSE, its types."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
from pathlib import Path

import pytest

import switchboard
from conftest import REPO, Nodes, fast, next_of, run, token, within

HERE = Path(__file__).resolve().parents[1]


def test_the_readme_example_runs_against_a_dev_node(nodes: Nodes) -> None:
    node = nodes.start("--dev")
    example = re.search(r"```python\n(.*?)```", (HERE / "README.md").read_text(), re.S)
    assert example is not None

    async def main() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "example.py"
            assert example is not None
            script.write_text(example.group(1))
            proc = await asyncio.create_subprocess_exec(
                sys.executable, str(script), stdout=asyncio.subprocess.PIPE,
                env={**os.environ, "SWITCHBOARD_NODE": node.http_url})
            assert proc.stdout is not None
            try:
                assert await within(proc.stdout.readline(), 10) == b"said hello as message 1\n"
                assert await within(proc.stdout.readline()) == b"here: ['echo-bot']\n"
                assert await within(proc.stdout.readline()) == b"join echo-bot\n"
                async with switchboard.Client(node.ws_url, token=token("tess"), **fast()) as client:
                    room = await within(client.subscribe("chat:lobby"))
                    assert await within(proc.stdout.readline()) == b"join tess\n"
                    await within(room.publish({"kind": "chat", "name": "Tess", "text": "ping"}))
                    assert await within(proc.stdout.readline()) == b"tess: ping\n"
                    await next_of(room, switchboard.Message)  # her own
                    answer = await next_of(room, switchboard.Message)
                    assert (answer.sender, answer.data["text"]) == ("echo-bot", "you said: ping")
            finally:
                proc.terminate()
                await within(proc.wait())

    run(main())


def test_license_is_the_repositorys() -> None:
    assert (HERE / "LICENSE").read_bytes() == (REPO / "LICENSE").read_bytes()


def test_the_package_is_typed_and_versioned() -> None:
    assert (Path(switchboard.__file__).parent / "py.typed").is_file()
    pyproject = (HERE / "pyproject.toml").read_text()
    assert f'version = "{switchboard.__version__}"' in pyproject
    assert 'license = {text = "Apache-2.0"}' in pyproject


def test_the_types_check_strictly() -> None:
    # mypy --strict (Debian's mypy) over the package as installed, and this README's example as
    # an application using it. Skipped where mypy is not installed.
    mypy = pytest.importorskip("mypy.api")
    example = re.search(r"```python\n(.*?)```", (HERE / "README.md").read_text(), re.S)
    assert example is not None
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "example.py"
        script.write_text(example.group(1))
        out, err, status = mypy.run(["--strict", "--cache-dir", os.devnull,
                                     str(Path(switchboard.__file__).parent), str(script)])
    assert status == 0, out + err
