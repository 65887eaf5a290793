"""Token issuing from several processes at once keeps every token it handed out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from schemas.settings import Settings
from warehouse.governed import authenticate

ROOT = Path(__file__).resolve().parents[3]

# Each child rotates its own principal again and again, then prints the last token it got.
ROTATE = """
import sys
from schemas.settings import get_settings
from warehouse.governed import issue_tokens
for _ in range(int(sys.argv[2])):
    token = issue_tokens(get_settings(), rotate=[sys.argv[1]])[sys.argv[1]]
print(token)
"""


def test_concurrent_rotations_each_keep_their_last_token(tmp_path: Path) -> None:
    # Without the store's lock each process writes back the store it read, and the last
    # writer drops the others' new hashes: their printed tokens would then be refused.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYBRAIN_")}
    env["CITYBRAIN_HOME"] = str(tmp_path)
    names = ["demo_public", "demo_analyst", "demo_steward", "demo_admin"]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", ROTATE, name, "60"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    outputs = [child.communicate(timeout=120) for child in children]
    settings = Settings(home=tmp_path)
    for name, child, (out, err) in zip(names, children, outputs, strict=True):
        assert child.returncode == 0, err
        assert authenticate(out.strip(), settings).name == name
