"""`prefect block register -m blocks` makes every Firebreak block type known to the API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL

import blocks

pytestmark = pytest.mark.prefect

ROOT = Path(__file__).resolve().parents[2]


def test_the_cli_registers_every_block_type(prefect_api):
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    prefect_cli = Path(sys.executable).with_name("prefect")
    done = subprocess.run(
        [str(prefect_cli), "block", "register", "-m", "blocks"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    classes = [
        getattr(blocks, name) for name in blocks.__all__ if isinstance(getattr(blocks, name), type)
    ]
    block_classes = [c for c in classes if hasattr(c, "get_block_type_slug")]
    assert block_classes, "the blocks package exports no block"
    with get_client(sync_client=True) as client:
        for cls in block_classes:
            block_type = client.read_block_type_by_slug(cls.get_block_type_slug())
            assert block_type.name == cls.get_block_type_name()
