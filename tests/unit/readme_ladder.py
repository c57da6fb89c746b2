"""The README's three-stage ladder as the functions receive it (CARDSHARE_STAGES), for unit tests."""

from __future__ import annotations

import json

from cardshare.policy import ladder_from_json

OWNER = "123456789012"
SHARES = {stage: f"arn:aws:ram:us-east-1:{OWNER}:resource-share/{stage}" for stage in ("dev", "test", "prod")}
_STAGES = (
    ("dev", "read-write", "111111111111", "Draft,PendingReview,Approved"),
    ("test", "read-write", "222222222222", "PendingReview,Approved"),
    ("prod", "read-only", "333333333333", "Approved,Archived"),
)
STAGES = json.dumps(
    [
        {"name": name, "access": access, "principals": principals, "statuses": statuses, "shareArns": [SHARES[name]]}
        for name, access, principals, statuses in _STAGES
    ]
)
LADDER = ladder_from_json(STAGES, OWNER)
