"""`make serve`: the embedded AWS on 127.0.0.1 with cardshare deployed, for the AWS CLI or boto3.

Everything runs in this process: moto's HTTP server, the extensions, the Step Functions
interpreter and the Lambda handlers. The log below shows each workflow execution as it ends.
"""

from __future__ import annotations

import json
import os
import time

from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer

from cardshare_local.accounts import MODEL_CARD_ACCOUNT, REGION
from cardshare_local.extensions import lambda_inprocess
from cardshare_local.runtime import deploy_local

_HELP = """
cardshare is deployed on the embedded AWS at {url} (account {account}, region {region}).
Try, in another shell:

  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={region}
  export AWS_ENDPOINT_URL={url}
  aws sagemaker create-model-card --model-card-name Demo-Card --model-card-status Draft \\
      --content '{{"model_overview": {{"model_owner": "me", "problem_type": "Regression"}}}}'
  aws sagemaker update-model-card --model-card-name Demo-Card --model-card-status PendingReview
  aws sagemaker update-model-card --model-card-name Demo-Card --model-card-status Approved
  aws ram get-resource-share-associations --association-type RESOURCE \\
      --resource-arn arn:aws:sagemaker:{region}:{account}:model-card/Demo-Card

Shares: {shares}
Ctrl-C stops the server.
"""


def main(port: int) -> int:
    """Serve until interrupted, printing each execution's outcome."""
    url = f"http://127.0.0.1:{port}"
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            # The handlers' boto3 clients and the Step Functions interpreter both call the server.
            "AWS_ENDPOINT_URL": url,
            "MOTO_PORT": str(port),
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    default_user_config["stepfunctions"]["execute_state_machine"] = True
    lambda_inprocess.ECHO = lambda function, line: print(f"[{function}] {line}", flush=True)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        system = deploy_local()
        print(_HELP.format(url=url, account=MODEL_CARD_ACCOUNT, region=REGION, shares=json.dumps(system.share_arns)))
        reported: set[str] = set()
        while True:
            for execution in system.executions():
                if execution["status"] == "RUNNING" or execution["executionArn"] in reported:
                    continue
                reported.add(execution["executionArn"])
                detail = execution.get("output") or f"{execution.get('error')}: {execution.get('cause')}"
                print(f"[cardshare] execution {execution['name']} {execution['status']}: {detail}", flush=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()
