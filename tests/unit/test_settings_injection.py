"""A stage's JSON variable is built by Fn::Sub from free-text parameters, so a key may be smuggled in."""

import pytest

from cardshare.policy import ConfigError
from cardshare.settings import load_ladder

ACCOUNT = "111111111111"


def test_a_statuses_parameter_cannot_smuggle_a_second_access_key() -> None:
    # prodStatuses = 'Approved","access":"read-write' renders into the template's Sub as a duplicate key;
    # json.loads keeps the last one, so the functions would treat a read-only stage as read-write.
    env = {
        "CARDSHARE_STAGE_ORDER": "prod",
        "CARDSHARE_SHARE_SLOTS": "0",
        "CARDSHARE_SHARE_prod_0": f"arn:aws:ram:us-east-1:{ACCOUNT}:resource-share/x",
        "CARDSHARE_STAGE_prod": '{"access":"read-only","principals":"222222222222",'
        '"statuses":"Approved","access":"read-write"}',
    }
    with pytest.raises(ConfigError, match="access"):
        load_ladder(env, ACCOUNT)
