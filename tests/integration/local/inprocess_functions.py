"""A Lambda function whose handler runs in-process, for the extensions' smoke tests."""

from __future__ import annotations

import io
import textwrap
import zipfile
from pathlib import Path

import boto3

from cardshare_local.accounts import REGION
from cardshare_local.extensions import lambda_inprocess


def in_process_function(name: str, code_dir: Path, source: str, environment: dict[str, str] | None = None) -> str:
    """Create Lambda function ``name`` whose handler (``app.handler``) is ``source``, run in-process; its ARN."""
    (code_dir / "app.py").write_text(textwrap.dedent(source))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "")  # moto stores a package; the real source runs from code_dir
    role = boto3.client("iam", region_name=REGION).create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")
    arn = boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
        Environment={"Variables": environment or {}},
    )["FunctionArn"]
    lambda_inprocess.register_source(name, code_dir)
    return str(arn)
