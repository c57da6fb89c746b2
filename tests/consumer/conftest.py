"""The accepter's modules import each other by name, as in its Lambda package: put its folder on the path."""

from __future__ import annotations

import sys
from pathlib import Path

ACCEPTER = Path(__file__).resolve().parents[2] / "consumer" / "functions" / "accept_invitations"
if str(ACCEPTER) not in sys.path:
    sys.path.insert(0, str(ACCEPTER))
