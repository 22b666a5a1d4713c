"""Tag filters choose a deployment group's hosts (`conveyor.deploy.targets`)."""

from __future__ import annotations

from conveyor.deploy.targets import has_targets, matches_filter, targeted

WEB = {"Name": "web-1", "Env": "prod", "Role": "web"}


def test_the_three_filter_types() -> None:
    assert matches_filter(WEB, {"Key": "Env", "Value": "prod", "Type": "KEY_AND_VALUE"})
    assert matches_filter(WEB, {"Key": "Env", "Value": "prod"})  # KEY_AND_VALUE is the default
    assert not matches_filter(WEB, {"Key": "Env", "Value": "staging"})
    assert matches_filter(WEB, {"Key": "Role", "Type": "KEY_ONLY"})
    assert not matches_filter(WEB, {"Key": "Team", "Type": "KEY_ONLY"})
    assert matches_filter(WEB, {"Value": "web", "Type": "VALUE_ONLY"})
    assert not matches_filter(WEB, {"Value": "db", "Type": "VALUE_ONLY"})


def test_filters_in_a_list_are_ored_and_lists_of_a_set_are_anded() -> None:
    either = {"onPremisesInstanceTagFilters": [{"Key": "Env", "Value": "staging"}, {"Key": "Role", "Value": "web"}]}
    assert targeted(either, WEB)
    both = {"ec2TagSet": {"ec2TagSetList": [[{"Key": "Env", "Value": "prod"}], [{"Key": "Role", "Value": "db"}]]}}
    assert not targeted(both, WEB)
    both["ec2TagSet"]["ec2TagSetList"][1] = [{"Key": "Role", "Value": "db"}, {"Key": "Role", "Value": "web"}]
    assert targeted(both, WEB)
    assert not targeted({}, WEB)
    assert not has_targets({"ec2TagFilters": []})
    assert has_targets(both)
