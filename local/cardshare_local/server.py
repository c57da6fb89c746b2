"""`make serve`: the embedded AWS on 127.0.0.1 with cardshare deployed, for the AWS CLI or boto3.

Everything runs in this process: moto's HTTP server, the extensions, the Step Functions
interpreter and the Lambda handlers. The log below shows each workflow execution as it ends.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from moto.core.base_backend import BackendDict
from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer

from cardshare_local.accounts import MODEL_CARD_ACCOUNT, REGION
from cardshare_local.extensions import lambda_inprocess
from cardshare_local.runtime import LocalAws, deploy_local

_HELP = """
cardshare is deployed on the embedded AWS at {url} (account {account}, region {region}).
Try, in another shell:

  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={region}
  export AWS_ENDPOINT_URL={url}
  aws sagemaker create-model-card --model-card-name Demo-Card --model-card-status Draft \\
      --content '{{"model_overview": {{"model_owner": "me", "problem_type": "Regression"}},
                 "intended_uses": {{"intended_uses": "Forecasting"}}}}'
  aws sagemaker update-model-card --model-card-name Demo-Card --model-card-status PendingReview
  read -r KEY SECRET TOKEN <<<"$(aws sts assume-role --role-arn arn:aws:iam::{account}:role/model-approver \\
      --role-session-name approver --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)"
  AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET AWS_SESSION_TOKEN=$TOKEN \\
      aws sagemaker update-model-card --model-card-name Demo-Card --model-card-status Approved
  cardshare status Demo-Card      # after a few seconds: dev and test read-write, prod read-only
  aws ram get-resource-share-associations --association-type RESOURCE \\
      --resource-arn arn:aws:sagemaker:{region}:{account}:model-card/Demo-Card

Shares: {shares}
Ctrl-C stops the server.
"""


@contextmanager
def serving(port: int) -> Iterator[tuple[str, LocalAws]]:
    """The embedded AWS served on 127.0.0.1:``port`` with cardshare deployed: (endpoint URL, system).

    Sets the process environment the handlers and the Step Functions interpreter need (they call
    the server too) and puts everything back afterwards, moto's backends included.
    """
    url = f"http://127.0.0.1:{port}"
    _check_free(port)
    environment = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        # The handlers' boto3 clients and the Step Functions interpreter both call the server.
        "AWS_ENDPOINT_URL": url,
        "MOTO_PORT": str(port),
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    saved = {key: os.environ.get(key) for key in (*environment, "AWS_SESSION_TOKEN")}
    executing = default_user_config["stepfunctions"].get("execute_state_machine", False)
    os.environ.update(environment)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    default_user_config["stepfunctions"]["execute_state_machine"] = True
    # werkzeug logs every request at INFO: the server loop alone polls twice a second. Errors still show.
    access_log = logging.getLogger("werkzeug")
    access_level = access_log.level
    access_log.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield url, deploy_local()
    finally:
        server.stop()
        access_log.setLevel(access_level)
        BackendDict.reset()  # the server used this process's backends
        lambda_inprocess.reset()  # handler modules hold clients bound to the server's URL
        lambda_inprocess.clear_environment()
        default_user_config["stepfunctions"]["execute_state_machine"] = executing
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class PortInUseError(RuntimeError):
    """The port is taken: the server would never start, and the deploy would talk to someone else."""


def _check_free(port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise PortInUseError(
                f"port {port} is in use ({error.strerror}): serve on another one, e.g. make serve PORT={port + 1}"
            ) from None


class Console:
    """The stream the server was started with; every line the server prints goes there.

    Never ``print``: while a handler runs, sys.stdout is the in-process Lambda runtime's router
    (process-wide, whichever thread writes), which sends what it gets to the running function's log.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()  # execution threads echo while the main loop reports

    def line(self, text: str) -> None:
        """Write ``text`` and a newline, flushed."""
        with self._lock:
            self._stream.write(text + "\n")
            self._stream.flush()


def main(port: int) -> int:
    """Serve until interrupted, printing each execution's outcome and the functions' log lines."""
    console = Console(sys.stdout)  # captured before any invocation can redirect sys.stdout
    echo = lambda_inprocess.ECHO
    lambda_inprocess.ECHO = lambda function, line: console.line(f"[{function}] {line}")
    try:
        with serving(port) as (url, system):
            shares = json.dumps(system.share_arns)
            console.line(_HELP.format(url=url, account=MODEL_CARD_ACCOUNT, region=REGION, shares=shares))
            _report_executions(system, console)
    except KeyboardInterrupt:
        pass
    except PortInUseError as error:
        print(f"cardshare serve: {error}", file=sys.stderr)
        return 1
    finally:
        lambda_inprocess.ECHO = echo
    return 0


def _report_executions(system: LocalAws, console: Console) -> None:
    """Print each workflow execution once, when it ends; loop until interrupted."""
    reported: set[str] = set()
    while True:
        for execution in system.executions():
            if execution["status"] == "RUNNING" or execution["executionArn"] in reported:
                continue
            reported.add(execution["executionArn"])
            detail = execution.get("output") or f"{execution.get('error')}: {execution.get('cause')}"
            console.line(f"[cardshare] execution {execution['name']} {execution['status']}: {detail}")
        time.sleep(0.5)
