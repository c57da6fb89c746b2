"""People behind AWS identities: compare persons, not ARN strings.

SageMaker reports who changed a card as a UserContext: a Studio user profile (``UserProfileArn``,
``DomainId``) and/or an IAM identity (``IamIdentity.Arn``, ``SourceIdentity``). One person can show
up under several session ARNs (the same role, another session name), and several people can share
one execution role (Studio). :func:`same_person` encodes which facets identify a person.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

_ASSUMED_ROLE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/(?P<session>.+)$"
)
_IAM = re.compile(r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):(?P<kind>user|role|root)(?P<path>/.*)?$")
_FEDERATED = re.compile(r"^arn:(?P<partition>aws[a-z-]*):sts::(?P<account>\d{12}):federated-user/.+$")
_USER_PROFILE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):user-profile/(?P<rest>.+)$"
)
# Facets come from events too, which anyone allowed to start the workflow can shape: keep them short.
_MAX_FACET = 2048


@dataclass(frozen=True, order=True)
class Actor:
    """Every facet AWS gives about who made a change.

    ``principal`` is the IAM identity as reported (an assumed-role session ARN, an IAM user ARN, ...);
    ``role`` the IAM role ARN behind an assumed-role session; ``session`` its session name.
    """

    principal: str | None = None
    role: str | None = None
    session: str | None = None
    source_identity: str | None = None
    user_profile: str | None = None
    domain: str | None = None

    @property
    def account(self) -> str | None:
        """The AWS account the actor belongs to (from the IAM identity, else the user profile)."""
        for value, pattern in (
            (self.principal, _ASSUMED_ROLE),
            (self.principal, _IAM),
            (self.principal, _FEDERATED),
            (self.user_profile, _USER_PROFILE),
        ):
            match = pattern.match(value) if value else None
            if match:
                return match["account"]
        return None

    @property
    def known(self) -> bool:
        """True when at least one facet names somebody."""
        return bool(self.principal or self.user_profile or self.source_identity)

    @property
    def label(self) -> str:
        """The most specific name for logs and records: user profile, else source identity, else IAM ARN."""
        if self.user_profile:
            return self.user_profile
        if self.source_identity and self.principal:
            return f"{self.principal} (source identity {self.source_identity})"
        return self.principal or self.source_identity or "unknown"

    @property
    def iam_key(self) -> str | None:
        """What identifies the actor's IAM side: the role behind a session, else the IAM ARN itself."""
        return self.role or self.principal

    @classmethod
    def from_user_context(cls, raw: object) -> Actor | None:
        """Read a CreatedBy/LastModifiedBy UserContext; None when it names nobody."""
        if not isinstance(raw, Mapping):
            return None
        iam = raw.get("IamIdentity")
        iam = iam if isinstance(iam, Mapping) else {}
        principal = _facet(iam.get("Arn"))
        role, session = _role_and_session(principal)
        actor = cls(
            principal=principal,
            role=role,
            session=session,
            source_identity=_facet(iam.get("SourceIdentity")),
            user_profile=_facet(raw.get("UserProfileArn")),
            domain=_facet(raw.get("DomainId")),
        )
        return actor if actor.known else None

    def encode(self) -> str:
        """A stable compact string (evidence is stored as sets of strings)."""
        fields = {
            "p": self.principal,
            "r": self.role,
            "n": self.session,
            "s": self.source_identity,
            "u": self.user_profile,
            "d": self.domain,
        }
        return json.dumps({k: v for k, v in fields.items() if v}, sort_keys=True, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> Actor:
        """The inverse of :meth:`encode`; raises ValueError for anything else."""
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError(f"not an encoded actor: {text[:80]!r}")
        return cls(
            principal=_facet(raw.get("p")),
            role=_facet(raw.get("r")),
            session=_facet(raw.get("n")),
            source_identity=_facet(raw.get("s")),
            user_profile=_facet(raw.get("u")),
            domain=_facet(raw.get("d")),
        )


def _facet(value: object) -> str | None:
    return value[:_MAX_FACET] if isinstance(value, str) and value else None


def _role_and_session(principal: str | None) -> tuple[str | None, str | None]:
    match = _ASSUMED_ROLE.match(principal) if principal else None
    if match is None:
        return None, None
    return f"arn:{match['partition']}:iam::{match['account']}:role/{match['role']}", match["session"]


def same_person(a: Actor, b: Actor) -> bool:
    """Whether two actors are the same person.

    They are when they share a Studio user profile, or share a SourceIdentity, or have the same IAM
    role (or IAM ARN) while either of them carries neither a user profile nor a SourceIdentity: a
    session name is chosen by the caller, so it never tells people apart, while a user profile or
    a SourceIdentity (which the caller cannot drop once set) does. Unknown actors are nobody.
    """
    if not a.known or not b.known:
        return False
    if a.user_profile and _folded(a.user_profile) == _folded(b.user_profile):
        return True
    if a.source_identity and a.source_identity == b.source_identity:
        return True
    if a.iam_key and _folded(a.iam_key) == _folded(b.iam_key):
        distinguished = (a.user_profile or a.source_identity) and (b.user_profile or b.source_identity)
        return not distinguished
    return False


def _folded(arn: str | None) -> str | None:
    # IAM role and user names are unique regardless of case; treating two spellings as one person
    # can only refuse more, never admit an author.
    return arn.lower() if arn else None
