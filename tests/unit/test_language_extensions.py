"""The local deployer's Fn::ForEach against what the AWS::LanguageExtensions transform documents."""

from __future__ import annotations

from typing import Any

import pytest

from cardshare_local.language_extensions import expand, uses_language_extensions
from cardshare_local.template import TemplateError


def template(resources: dict[str, Any], **sections: Any) -> dict[str, Any]:
    return {"Transform": ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"], "Resources": resources, **sections}


def test_the_transform_is_recognised_alone_or_in_a_list() -> None:
    assert uses_language_extensions({"Transform": "AWS::LanguageExtensions"})
    assert uses_language_extensions(template({}))
    assert not uses_language_extensions({"Transform": "AWS::Serverless-2016-10-31"})
    assert not uses_language_extensions({})


def test_a_loop_copies_its_fragment_per_item_substituting_keys_refs_and_subs() -> None:
    loop = {
        "Fn::ForEach::Topics": [
            "Name",
            ["Success", "Failure"],
            {
                "Topic${Name}": {
                    "Type": "AWS::SNS::Topic",
                    "Properties": {
                        "TopicName": {"Ref": "Name"},
                        "DisplayName": {"Fn::Sub": "${AWS::StackName}-${Name}"},
                        "Owner": {"Ref": {"Fn::Sub": "${Name}Owner"}},
                    },
                }
            },
        ]
    }
    resources = expand(template(loop), {})["Resources"]
    assert set(resources) == {"TopicSuccess", "TopicFailure"}
    properties = resources["TopicFailure"]["Properties"]
    assert properties["TopicName"] == "Failure"
    # A Sub left with a variable stays a Sub; one with nothing left becomes its string.
    assert properties["DisplayName"] == {"Fn::Sub": "${AWS::StackName}-Failure"}
    assert properties["Owner"] == {"Ref": "FailureOwner"}


def test_a_collection_may_be_a_comma_delimited_list_parameter() -> None:
    loop = {"Fn::ForEach::Queues": ["Q", {"Ref": "Queues"}, {"Queue${Q}": {"Type": "AWS::SQS::Queue"}}]}
    assert set(expand(template(loop), {"Queues": ["a", "b", "c"]})["Resources"]) == {"Queuea", "Queueb", "Queuec"}


def test_ampersand_drops_what_a_logical_id_cannot_hold() -> None:
    loop = {
        "Fn::ForEach::Stages": [
            "S",
            ["pre-prod"],
            {"Share&{S}": {"Type": "X", "Properties": {"Name": {"Fn::Sub": "${S}"}}}},
        ]
    }
    resources = expand(template(loop), {})["Resources"]
    assert resources == {"Sharepreprod": {"Type": "X", "Properties": {"Name": "pre-prod"}}}


def test_nested_loops_see_both_identifiers_and_loops_work_inside_properties() -> None:
    loop = {
        "Fn::ForEach::Stages": [
            "Stage",
            ["dev", "prod"],
            {
                "Fn::ForEach::Slots": [
                    "Slot",
                    ["1", "2"],
                    {"${Stage}Share${Slot}": {"Type": "AWS::RAM::ResourceShare"}},
                ]
            },
        ]
    }
    function = {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "Environment": {
                "Variables": {
                    "FIXED": "x",
                    "Fn::ForEach::Vars": [
                        "Stage",
                        ["dev"],
                        {"VAR_${Stage}": {"Fn::GetAtt": [{"Fn::Sub": "${Stage}Share1"}, "Arn"]}},
                    ],
                }
            }
        },
    }
    resources = expand(template({**loop, "Fn": function}), {})["Resources"]
    assert {name for name in resources if "Share" in name} == {"devShare1", "devShare2", "prodShare1", "prodShare2"}
    assert resources["Fn"]["Properties"]["Environment"]["Variables"] == {
        "FIXED": "x",
        "VAR_dev": {"Fn::GetAtt": ["devShare1", "Arn"]},
    }


def test_conditions_and_outputs_loop_but_a_condition_name_inside_fn_if_is_left_alone() -> None:
    document = template(
        {
            "Fn::ForEach::R": [
                "S",
                ["a"],
                {"R${S}": {"Type": "X", "Properties": {"V": {"Fn::If": ["${S}Cond", {"Ref": "S"}, "no"]}}}},
            ]
        },
        Conditions={"Fn::ForEach::C": ["S", ["a"], {"${S}Cond": {"Fn::Equals": [{"Ref": "S"}, "a"]}}]},
        Outputs={"Fn::ForEach::O": ["S", ["a"], {"${S}Out": {"Value": {"Ref": "S"}}}]},
    )
    expanded = expand(document, {})
    assert expanded["Conditions"] == {"aCond": {"Fn::Equals": ["a", "a"]}}
    assert expanded["Outputs"] == {"aOut": {"Value": "a"}}
    # CloudFormation does not substitute Fn::If's condition name, only its branches.
    assert expanded["Resources"]["Ra"]["Properties"]["V"] == {"Fn::If": ["${S}Cond", "a", "no"]}


def test_plain_strings_are_not_substituted() -> None:
    loop = {"Fn::ForEach::L": ["S", ["a"], {"R${S}": {"Type": "X", "Properties": {"Literal": "${S} stays"}}}]}
    assert expand(template(loop), {})["Resources"]["Ra"]["Properties"]["Literal"] == "${S} stays"


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        pytest.param(
            {"Ra": {"Type": "X"}, "Fn::ForEach::L": ["S", ["a"], {"R${S}": {"Type": "X"}}]},
            "Fn::ForEach generated Ra, which the template already has",
            id="duplicate",
        ),
        pytest.param(
            {"Fn::ForEach::L": ["S", ["a"]]}, "expected [Identifier, Collection, Fragment]", id="two-arguments"
        ),
        pytest.param(
            {"Fn::ForEach::L": ["S", {"Ref": "Missing"}, {"R${S}": {}}]}, "not a CommaDelimitedList", id="ref"
        ),
        pytest.param({"Fn::ForEach::L": ["S", [1, 2], {"R${S}": {}}]}, "list of strings", id="not-strings"),
        pytest.param({"Fn::ForEach::L": ["S", ["a"], ["R${S}"]]}, "fragment must be a mapping", id="fragment"),
    ],
)
def test_a_malformed_loop_is_a_template_error(resources: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("[", r"\[")):
        expand(template(resources), {"Missing": "one string"})
