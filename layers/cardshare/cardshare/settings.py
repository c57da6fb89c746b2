"""Runtime configuration from environment variables, validated once per container."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from cardshare.convergence import Limits
from cardshare.gate_config import GateConfig, RawGateSettings, parse_gate_config
from cardshare.policy import ConfigError, StageLadder, build_ladder, ladder_from_json


@dataclass(frozen=True)
class Settings:
    """Everything the plan function needs besides AWS clients."""

    account: str
    region: str
    ladder: StageLadder
    limits: Limits
    gates: GateConfig
    ledger_table: str
    reconcile_grace_seconds: int = 60
    """Time for an event to reach the workflow and its execution to start (the reconciler's margin)."""

    @property
    def in_flight_seconds(self) -> int:
        """How long after a change the execution its event started may still be deciding it.

        The reconciler leaves a card changed more recently than this to that execution.
        """
        return self.gates.evidence_wait_seconds + self.limits.quiet_seconds + self.reconcile_grace_seconds


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    # An empty value reads as unset (a CommaDelimited/empty parameter, or a variable cleared locally).
    raw = env.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}: {value} is below the minimum {minimum}")
    return value


def load_ladder(env: Mapping[str, str], account: str) -> StageLadder:
    """The stage ladder, from the template's per-stage variables or one ``CARDSHARE_STAGES`` document.

    The template sets ``CARDSHARE_STAGE_ORDER`` (stage names), ``CARDSHARE_SHARE_SLOTS`` (share labels),
    and per stage ``CARDSHARE_STAGE_<stage>`` (JSON: access, principals, statuses) and
    ``CARDSHARE_SHARE_<stage>_<slot>`` (a share ARN). ``CARDSHARE_STAGES`` holds the same ladder as one
    JSON list, for a function run outside the stack (tests, ``sam local invoke`` with env.json);
    when it is not empty it wins (the template declares it empty).
    """
    stages = env.get("CARDSHARE_STAGES")
    if stages:
        return ladder_from_json(stages, account)
    order = env.get("CARDSHARE_STAGE_ORDER")
    if not order:
        raise ConfigError("CARDSHARE_STAGE_ORDER: not set (nor CARDSHARE_STAGES)")
    slots = [slot for slot in env.get("CARDSHARE_SHARE_SLOTS", "").split(",") if slot.strip()]
    if not slots:
        raise ConfigError("CARDSHARE_SHARE_SLOTS: not set")
    raw: list[dict[str, object]] = []
    for name in (stage.strip() for stage in order.split(",") if stage.strip()):
        stage = dict(_json_object(env, f"CARDSHARE_STAGE_{name}"), name=name)
        stage["shareArns"] = [_required(env, f"CARDSHARE_SHARE_{name}_{slot.strip()}") for slot in slots]
        raw.append(stage)
    return build_ladder(raw, account)


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise ConfigError(f"{name}: not set")
    return value


def _unique(name: str, pairs: list[tuple[str, object]]) -> dict[str, object]:
    # The template builds this JSON with Fn::Sub from free-text parameters: a value such as
    # 'Approved","access":"read-write' would add a second key, and json.loads keeps the last one.
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise ConfigError(f"{name}: key {key!r} appears more than once")
    return dict(pairs)


def _json_object(env: Mapping[str, str], name: str) -> dict[str, object]:
    try:
        value = json.loads(_required(env, name), object_pairs_hook=lambda pairs: _unique(name, pairs))
    except json.JSONDecodeError as error:
        raise ConfigError(f"{name}: not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: expected a JSON object")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read ``CARDSHARE_*`` variables (and AWS_REGION); raise :class:`ConfigError` naming the variable."""
    env = os.environ if env is None else env
    account = env.get("CARDSHARE_ACCOUNT_ID", "")
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION", "")
    if not region:
        raise ConfigError("AWS_REGION: not set")
    ladder = load_ladder(env, account)
    limits = Limits(
        poll_seconds=_int(env, "CARDSHARE_POLL_SECONDS", 5, 0),
        max_polls=_int(env, "CARDSHARE_MAX_POLLS", 24, 1),
        max_rounds=_int(env, "CARDSHARE_MAX_ROUNDS", 3, 1),
        quiet_seconds=_int(env, "CARDSHARE_QUIET_SECONDS", 2, 0),
    )
    raw = RawGateSettings(
        required_fields=env.get("CARDSHARE_REQUIRED_FIELDS"),
        approvers=env.get("CARDSHARE_APPROVERS"),
        approver_accounts=env.get("CARDSHARE_APPROVER_ACCOUNTS"),
        enforcement=env.get("CARDSHARE_ENFORCEMENT"),
        content_edit_events=env.get("CARDSHARE_CONTENT_EDIT_EVENTS"),
    )
    gates = parse_gate_config(raw, account, _int(env, "CARDSHARE_EVIDENCE_WAIT_SECONDS", 120, 1))
    ledger_table = env.get("CARDSHARE_LEDGER_TABLE", "")
    if not ledger_table:
        raise ConfigError("CARDSHARE_LEDGER_TABLE: not set")
    grace = _int(env, "CARDSHARE_RECONCILE_GRACE_SECONDS", 60, 0)
    return Settings(account, region, ladder, limits, gates, ledger_table, grace)
