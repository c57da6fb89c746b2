"""The benchmark's call hook: counts every session's calls except the driver's, by service and operation."""

from __future__ import annotations

import boto3
from moto import mock_aws

from bench.calls import LOG, as_driver, by_service, install


def test_calls_are_counted_by_operation_and_the_drivers_are_left_out() -> None:
    install()
    with mock_aws():
        system = boto3.Session(region_name="us-east-1")
        driver = as_driver(boto3.Session(region_name="us-east-1"))
        system_sts, driver_sts = system.client("sts"), driver.client("sts")
        LOG.reset()
        system_sts.get_caller_identity()
        system.client("sqs").list_queues()
        driver_sts.get_caller_identity()
        boto3.client("sts", region_name="us-east-1").get_caller_identity()  # boto3's default session
        assert by_service(LOG.snapshot()) == {"sqs": {"ListQueues": 1}, "sts": {"GetCallerIdentity": 2}}


def test_install_is_idempotent() -> None:
    install()
    install()
    with mock_aws():
        client = boto3.Session(region_name="us-east-1").client("sts")
        LOG.reset()
        client.get_caller_identity()
        assert sum(LOG.snapshot().values()) == 1
