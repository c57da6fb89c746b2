"""Identity: people, not strings. One row per line of the README's identity table, plus parsing."""

from __future__ import annotations

import pytest
from governance_world import ACCOUNT, DEV, role_session, studio_user

from cardshare.identity import Actor, same_person

ALICE = role_session("DataScientist", "alice")


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        # The same role with another session name: a session name is the caller's choice.
        pytest.param(ALICE, role_session("DataScientist", "alice-approving"), True, id="session-name"),
        # One Studio user profile, whatever role or session it acts through.
        pytest.param(studio_user("carol"), studio_user("carol", role="OtherRole"), True, id="same-profile"),
        # Two Studio users on one execution role are two people.
        pytest.param(studio_user("carol"), studio_user("dave"), False, id="two-profiles-one-role"),
        # A Studio user and the execution role used outside Studio: the role carries no profile.
        pytest.param(studio_user("carol"), role_session("StudioExecution", "batch"), True, id="profile-vs-bare-role"),
        # One SourceIdentity, even through different roles.
        pytest.param(
            role_session("DataScientist", "s1", source_identity="alice"),
            role_session("ModelApprover", "s2", source_identity="alice"),
            True,
            id="same-source-identity",
        ),
        # Two SourceIdentities on one role are two people.
        pytest.param(
            role_session("MLTeam", "s1", source_identity="alice"),
            role_session("MLTeam", "s2", source_identity="bob"),
            False,
            id="two-source-identities-one-role",
        ),
        # One side without a SourceIdentity on the shared role: it could be anyone, including the other.
        pytest.param(
            role_session("MLTeam", "s1", source_identity="alice"), role_session("MLTeam", "s2"), True, id="one-bare"
        ),
        # Different roles, no shared facet.
        pytest.param(ALICE, role_session("ModelApprover", "jane"), False, id="different-roles"),
        # The same role name in another account is another role.
        pytest.param(
            role_session("ModelApprover", "jane"),
            role_session("ModelApprover", "jane", account=DEV),
            False,
            id="same-name-other-account",
        ),
    ],
)
def test_same_person(a: Actor, b: Actor, same: bool) -> None:
    assert same_person(a, b) is same
    assert same_person(b, a) is same


def test_unknown_actors_are_nobody() -> None:
    assert not same_person(Actor(), Actor())
    assert not same_person(Actor(), ALICE)


def test_iam_users_compare_by_arn() -> None:
    user = Actor(principal=f"arn:aws:iam::{ACCOUNT}:user/alice")
    assert same_person(user, Actor(principal=f"arn:aws:iam::{ACCOUNT}:user/alice"))
    assert not same_person(user, Actor(principal=f"arn:aws:iam::{ACCOUNT}:user/bob"))
    assert user.account == ACCOUNT
    assert user.role is None


def test_from_user_context_reads_every_facet() -> None:
    actor = Actor.from_user_context(
        {
            "DomainId": "d-1",
            "UserProfileArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:user-profile/d-1/carol",
            "UserProfileName": "carol",
            "IamIdentity": {
                "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Exec/SageMaker",
                "PrincipalId": "AROA:SageMaker",
                "SourceIdentity": "carol@example.com",
            },
        }
    )
    assert actor == Actor(
        principal=f"arn:aws:sts::{ACCOUNT}:assumed-role/Exec/SageMaker",
        role=f"arn:aws:iam::{ACCOUNT}:role/Exec",
        session="SageMaker",
        source_identity="carol@example.com",
        user_profile=f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:user-profile/d-1/carol",
        domain="d-1",
    )
    assert actor.label == actor.user_profile
    assert actor.account == ACCOUNT


@pytest.mark.parametrize("raw", [None, "x", {}, {"IamIdentity": {}}, {"IamIdentity": {"Arn": ""}}, {"DomainId": "d"}])
def test_a_context_naming_nobody_is_none(raw: object) -> None:
    assert Actor.from_user_context(raw) is None


def test_facets_are_bounded() -> None:
    actor = Actor.from_user_context({"IamIdentity": {"Arn": "a" * 10_000, "SourceIdentity": "s" * 10_000}})
    assert actor is not None
    assert len(actor.principal or "") == 2048
    assert len(actor.source_identity or "") == 2048


@pytest.mark.parametrize("actor", [ALICE, studio_user("carol"), role_session("R", "s", source_identity="x"), Actor()])
def test_encode_round_trips(actor: Actor) -> None:
    assert Actor.decode(actor.encode()) == actor


def test_decode_refuses_what_is_not_an_actor() -> None:
    with pytest.raises(ValueError, match="not an encoded actor"):
        Actor.decode("[1, 2]")


def test_role_names_compare_without_case() -> None:
    # IAM keeps role names unique regardless of case, so two spellings are one role.
    assert same_person(role_session("DataScientist", "a"), role_session("datascientist", "b"))


@pytest.mark.parametrize(
    ("principal", "account"),
    [
        (f"arn:aws:sts::{ACCOUNT}:federated-user/bob", ACCOUNT),
        (f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT),
        (f"arn:aws:sts::{DEV}:assumed-role/R/s", DEV),
        ("not-an-arn", None),
    ],
)
def test_the_account_of_an_actor(principal: str, account: str | None) -> None:
    assert Actor(principal=principal).account == account
