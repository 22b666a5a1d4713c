"""Lambda and ECS AppSpecs: their resource and hook functions, keys in any case, every problem with path and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.deploy.appspec import ComputePlatform, EcsAppSpec, LambdaAppSpec, parse_appspec
from conveyor.deploy.appspec_ecs import AwsVpcConfiguration, CapacityProviderStrategyItem, EcsServiceTarget
from conveyor.deploy.appspec_lambda import LambdaFunctionTarget
from conveyor.errors import SpecError

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "appspec"

LAMBDA = """\
version: 0.0
Resources:
  - ordersFunction:
      Type: AWS::Lambda::Function
      Properties:
        Name: orders
        Alias: live
        CurrentVersion: 1
        TargetVersion: 2
Hooks:
  - AfterAllowTraffic: orders-after
  - BeforeAllowTraffic: orders-before
"""

ECS = """\
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: "storefront:7"
        LoadBalancerInfo:
          ContainerName: web
          ContainerPort: 80
"""


def lambda_spec(text: str) -> LambdaAppSpec:
    spec = parse_appspec(text)
    assert isinstance(spec, LambdaAppSpec)
    return spec


def ecs_spec(text: str) -> EcsAppSpec:
    spec = parse_appspec(text)
    assert isinstance(spec, EcsAppSpec)
    return spec


def problems_of(text: str, platform: ComputePlatform | None = None) -> list[tuple[str, int | None, str]]:
    with pytest.raises(SpecError) as caught:
        parse_appspec(text, platform=platform)
    return [(p.path, p.line, p.message) for p in caught.value.problems]


def only_problem(text: str, platform: ComputePlatform | None = None) -> tuple[str, int | None, str]:
    problems = problems_of(text, platform)
    assert len(problems) == 1, problems
    return problems[0]


# -- Lambda -----------------------------------------------------------------------------------------------------------


def test_a_lambda_appspec_without_a_final_newline() -> None:
    raw = (CORPUS / "lambda-no-final-newline.yml").read_bytes()
    assert not raw.endswith(b"\n")

    spec = lambda_spec(raw.decode())

    assert spec.platform is ComputePlatform.LAMBDA
    assert spec.function == LambdaFunctionTarget("checkoutFunction", "checkout", "live", "7", "8")
    assert spec.hooks == {
        "BeforeAllowTraffic": "checkout-preflight",
        "AfterAllowTraffic": "arn:aws:lambda:us-east-1:123456789012:function:checkout-smoke",
    }


def test_a_lambda_appspec_in_json_with_lower_case_keys_and_number_versions() -> None:
    spec = lambda_spec((CORPUS / "lambda-lower-case.json").read_text())

    assert spec.function == LambdaFunctionTarget("pricing", "pricing-api", "prod", "3", "4")
    assert spec.hooks == {"AfterAllowTraffic": "pricing-after-shift:live"}
    assert spec.hook_count == 1


def test_lambda_hooks_come_back_in_the_order_events_run() -> None:
    assert list(lambda_spec(LAMBDA).hooks) == ["BeforeAllowTraffic", "AfterAllowTraffic"]


def test_a_lambda_appspec_needs_no_hooks() -> None:
    assert lambda_spec(LAMBDA[: LAMBDA.index("Hooks:")]).hooks == {}


def test_every_lambda_problem_is_reported_at_once() -> None:
    text = (
        "version: 0.0\n"  # 1
        "os: linux\n"  # 2 (a host key: but the resource says Lambda)
        "Resources:\n"  # 3
        "  - ordersFunction:\n"  # 4
        "      Type: AWS::Lambda::Function\n"  # 5
        "      Properties:\n"  # 6
        "        Name: orders:live\n"  # 7
        "        Alias: '12'\n"  # 8
        "        CurrentVersion: $LATEST\n"  # 9
        "        Timeout: 3\n"  # 10
        "  - second:\n"  # 11
        "      Type: AWS::Lambda::Function\n"  # 12
        "Hooks:\n"  # 13
        "  - BeforeInstall: check\n"  # 14
        "  - AfterAllowTraffic: after\n"  # 15
        "  - AfterAllowTraffic: again\n"  # 16
        "  - BeforeAllowTraffic: [a, b]\n"  # 17
    )

    where = [(path, line) for path, line, _ in problems_of(text)]

    assert where == [
        ("os", 2),
        ("Resources[0].ordersFunction.Properties", 6),
        ("Resources[0].ordersFunction.Properties.Name", 7),
        ("Resources[0].ordersFunction.Properties.Alias", 8),
        ("Resources[0].ordersFunction.Properties.CurrentVersion", 9),
        ("Resources[0].ordersFunction.Properties.Timeout", 10),
        ("Resources[1]", 11),
        ("Hooks[0].BeforeInstall", 14),
        ("Hooks[2].AfterAllowTraffic", 16),
        ("Hooks[3].BeforeAllowTraffic", 17),
    ]


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        ("        Name: orders\n", "", "Resources[0].ordersFunction.Properties", "missing required key 'Name'"),
        (
            "Alias: live",
            "Alias: '007'",
            "Resources[0].ordersFunction.Properties.Alias",
            "'007' is not an alias name (letters, digits, - and _, not only digits)",
        ),
        (
            "TargetVersion: 2",
            "TargetVersion: 1",
            "Resources[0].ordersFunction.Properties.TargetVersion",
            "is version 1, where the alias points already (CurrentVersion)",
        ),
        (
            "TargetVersion: 2",
            "TargetVersion: 2.5",
            "Resources[0].ordersFunction.Properties.TargetVersion",
            "'2.5' is not a published version number like 3 (not $LATEST or an alias)",
        ),
        ("Type: AWS::Lambda::Function", "Type: AWS::Lambda::Alias", "Resources[0].ordersFunction.Type", "missing"),
        (
            LAMBDA[LAMBDA.index("Hooks:") :],
            "Hooks: orders-before\n",
            "Hooks",
            "must be a list of one-key entries (- BeforeAllowTraffic: MyValidationFunction)",
        ),
        (
            "  - AfterAllowTraffic: orders-after\n",
            "  - AfterAllowTraffic: 'two words'\n",
            "Hooks[0].AfterAllowTraffic",
            "'two words' is not a Lambda function name or ARN",
        ),
        (
            "  - AfterAllowTraffic: orders-after\n",
            "  - AllowTraffic: orders-after\n",
            "Hooks[0].AllowTraffic",
            "AllowTraffic is run by CodeDeploy itself and cannot hold a hook "
            "(hooks of AWS Lambda deployments: BeforeAllowTraffic, AfterAllowTraffic)",
        ),
        (
            "  - AfterAllowTraffic: orders-after\n",
            "  - ApplicationStop: orders-after\n",
            "Hooks[0].ApplicationStop",
            "ApplicationStop is a hook of EC2/on-premises deployments, not of AWS Lambda ones "
            "(hooks of AWS Lambda deployments: BeforeAllowTraffic, AfterAllowTraffic)",
        ),
        (
            "  - AfterAllowTraffic: orders-after\n",
            "  - orders-after\n",
            "Hooks[0]",
            "must be an entry like - BeforeAllowTraffic: MyValidationFunction",
        ),
        ("version: 0.0", "version: 0.1", "version", "unsupported version '0.1' (use 0.0)"),
    ],
)
def test_each_lambda_problem_has_its_path_and_message(old: str, new: str, path: str, message: str) -> None:
    assert old in LAMBDA
    found_path, _, found = only_problem(LAMBDA.replace(old, new), ComputePlatform.LAMBDA)

    assert found_path == path
    if message == "missing":
        assert found == "'AWS::Lambda::Alias' is not AWS::Lambda::Function, the resource of AWS Lambda AppSpecs"
    else:
        assert found == message


def test_keys_written_twice_in_different_cases_are_refused() -> None:
    text = LAMBDA.replace("        Alias: live\n", "        Alias: live\n        alias: beta\n")

    assert only_problem(text) == (
        "Resources[0].ordersFunction.Properties.alias",
        8,
        "'alias' repeats 'Alias' (keys match in any case)",
    )


def test_resources_must_hold_one_resource() -> None:
    path, line, message = only_problem("version: 0.0\nResources: []\n", ComputePlatform.LAMBDA)

    assert (path, line) == ("Resources", 2)
    assert message.startswith("must be a list holding one resource")


def test_a_resource_is_a_mapping_of_one_logical_name() -> None:
    text = "version: 0.0\nResources:\n  - Type: AWS::Lambda::Function\n    Properties: {}\n"

    path, line, message = only_problem(text, ComputePlatform.LAMBDA)

    assert (path, line) == ("Resources[0]", 3)
    assert message.startswith("must be a mapping of one logical name to its resource")


def test_a_resource_without_a_body() -> None:
    assert only_problem("version: 0.0\nResources:\n  - fn:\n", ComputePlatform.LAMBDA) == (
        "Resources[0].fn",
        3,
        "must be a mapping with Type (AWS::Lambda::Function) and Properties",
    )


# -- ECS --------------------------------------------------------------------------------------------------------------


def test_a_full_ecs_appspec() -> None:
    spec = ecs_spec((CORPUS / "ecs-fargate.yml").read_text())

    assert spec.platform is ComputePlatform.ECS
    assert spec.service == EcsServiceTarget(
        logical_name="TargetService",
        task_definition="arn:aws:ecs:eu-west-1:123456789012:task-definition/storefront:42",
        container_name="storefront",
        container_port=8080,
        platform_version="1.4.0",
        network_configuration=AwsVpcConfiguration(("subnet-0a1b2c3d", "subnet-4e5f6a7b"), ("sg-0123abcd",), "DISABLED"),
        capacity_provider_strategy=(
            CapacityProviderStrategyItem("FARGATE", 1, 1),
            CapacityProviderStrategyItem("FARGATE_SPOT", 0, 3),
        ),
    )
    assert list(spec.hooks) == [
        "BeforeInstall",
        "AfterInstall",
        "AfterAllowTestTraffic",
        "BeforeAllowTraffic",
        "AfterAllowTraffic",
    ]
    assert spec.notes == ()


def test_an_ecs_appspec_with_a_pipelines_placeholder_is_accepted_with_a_note() -> None:
    spec = ecs_spec((CORPUS / "ecs-pipeline-placeholder.json").read_text())

    assert spec.service.task_definition == "<TASK_DEFINITION>"
    assert (spec.service.container_name, spec.service.container_port, spec.service.platform_version) == (
        "api",
        80,
        None,
    )
    assert [(n.path, n.line) for n in spec.notes] == [("Resources[0].TargetService.Properties.TaskDefinition", 8)]
    assert spec.hooks == {}


def test_ecs_keys_match_in_any_case() -> None:
    text = ECS.lower().replace("storefront:7", "storefront:7").replace("aws::ecs::service", "AWS::ECS::Service")

    assert ecs_spec(text).service == EcsServiceTarget("targetservice", "storefront:7", "web", 80)


def test_every_ecs_problem_is_reported_at_once() -> None:
    text = (
        "version: 0.0\n"  # 1
        "Resources:\n"  # 2
        "  - TargetService:\n"  # 3
        "      Type: AWS::ECS::Service\n"  # 4
        "      Properties:\n"  # 5
        "        TaskDefinition: 'arn:aws:ecs:us-east-1:1:task-definition/x'\n"  # 6
        "        LoadBalancerInfo:\n"  # 7
        "          ContainerName: 'web app'\n"  # 8
        "          ContainerPort: 0\n"  # 9
        "        NetworkConfiguration:\n"  # 10
        "          AwsvpcConfiguration:\n"  # 11
        "            Subnets: []\n"  # 12
        "            AssignPublicIp: 'yes'\n"  # 13
        "        CapacityProviderStrategy:\n"  # 14
        "          - Weight: 1001\n"  # 15
        "Hooks:\n"  # 16
        "  - ValidateService: check\n"  # 17
        "  - AllowTestTraffic: check\n"  # 18
    )

    assert problems_of(text) == [
        (
            "Resources[0].TargetService.Properties.TaskDefinition",
            6,
            "'arn:aws:ecs:us-east-1:1:task-definition/x' is not a task definition ARN or family:revision",
        ),
        (
            "Resources[0].TargetService.Properties.LoadBalancerInfo.ContainerName",
            8,
            "'web app' is not a container name (letters, digits, - and _)",
        ),
        (
            "Resources[0].TargetService.Properties.LoadBalancerInfo.ContainerPort",
            9,
            "0 is out of range: use a whole number from 1 to 65535",
        ),
        (
            "Resources[0].TargetService.Properties.NetworkConfiguration.AwsvpcConfiguration",
            11,
            "missing required key 'SecurityGroups'",
        ),
        (
            "Resources[0].TargetService.Properties.NetworkConfiguration.AwsvpcConfiguration.Subnets",
            12,
            "needs from 1 to 16 ids",
        ),
        (
            "Resources[0].TargetService.Properties.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp",
            13,
            "'yes' is not ENABLED or DISABLED",
        ),
        (
            "Resources[0].TargetService.Properties.CapacityProviderStrategy[0]",
            15,
            "missing required key 'CapacityProvider'",
        ),
        (
            "Resources[0].TargetService.Properties.CapacityProviderStrategy[0].Weight",
            15,
            "1001 is out of range: use a whole number from 0 to 1000",
        ),
        (
            "Hooks[0].ValidateService",
            17,
            "ValidateService is a hook of EC2/on-premises deployments, not of Amazon ECS ones (hooks of Amazon ECS "
            "deployments: BeforeInstall, AfterInstall, AfterAllowTestTraffic, BeforeAllowTraffic, AfterAllowTraffic)",
        ),
        (
            "Hooks[1].AllowTestTraffic",
            18,
            "AllowTestTraffic is run by CodeDeploy itself and cannot hold a hook (hooks of Amazon ECS deployments: "
            "BeforeInstall, AfterInstall, AfterAllowTestTraffic, BeforeAllowTraffic, AfterAllowTraffic)",
        ),
    ]


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        (
            '        TaskDefinition: "storefront:7"\n',
            "",
            "Resources[0].TargetService.Properties",
            "missing required key 'TaskDefinition'",
        ),
        (
            "          ContainerPort: 80\n",
            "",
            "Resources[0].TargetService.Properties.LoadBalancerInfo",
            "missing required key 'ContainerPort'",
        ),
        (
            "          ContainerPort: 80",
            "          ContainerPort: http",
            "Resources[0].TargetService.Properties.LoadBalancerInfo.ContainerPort",
            "must be a whole number from 1 to 65535",
        ),
        (
            "        LoadBalancerInfo:\n          ContainerName: web\n          ContainerPort: 80\n",
            "        LoadBalancerInfo: web:80\n",
            "Resources[0].TargetService.Properties.LoadBalancerInfo",
            "must be a mapping",
        ),
        (
            "          ContainerPort: 80\n",
            "          ContainerPort: 80\n        NetworkConfiguration: {}\n",
            "Resources[0].TargetService.Properties.NetworkConfiguration",
            "missing required key 'AwsvpcConfiguration'",
        ),
        (
            "          ContainerPort: 80\n",
            "          ContainerPort: 80\n        CapacityProviderStrategy: FARGATE\n",
            "Resources[0].TargetService.Properties.CapacityProviderStrategy",
            "must be a list of entries (- CapacityProvider: FARGATE_SPOT, Base: 0, Weight: 1)",
        ),
        (
            "          ContainerPort: 80\n",
            "          ContainerPort: 80\n        DesiredCount: 2\n",
            "Resources[0].TargetService.Properties.DesiredCount",
            "unknown key 'DesiredCount'",
        ),
    ],
)
def test_each_ecs_problem_has_its_path_and_message(old: str, new: str, path: str, message: str) -> None:
    assert old in ECS
    found_path, _, found = only_problem(ECS.replace(old, new))

    assert (found_path, found) == (path, message)


def test_too_many_security_groups_and_capacity_providers() -> None:
    groups = ", ".join(f"sg-{n}" for n in range(6))
    providers = "".join(f"          - CapacityProvider: p{n}\n" for n in range(7))
    text = ECS + (
        "        NetworkConfiguration:\n          AwsvpcConfiguration:\n"
        f"            Subnets: [subnet-1]\n            SecurityGroups: [{groups}]\n"
        "            AssignPublicIp: ENABLED\n"
        f"        CapacityProviderStrategy:\n{providers}"
    )

    assert [message for _, _, message in problems_of(text)] == [
        "holds 6 ids; at most 5 are allowed",
        "holds 7 capacity providers; at most 6 are allowed",
    ]


# -- which kind -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "platform"),
    [
        ("host-linux.yml", ComputePlatform.SERVER),
        ("host-windows-crlf-bom.yml", ComputePlatform.SERVER),
        ("lambda-no-final-newline.yml", ComputePlatform.LAMBDA),
        ("lambda-lower-case.json", ComputePlatform.LAMBDA),
        ("ecs-fargate.yml", ComputePlatform.ECS),
        ("ecs-pipeline-placeholder.json", ComputePlatform.ECS),
    ],
)
def test_the_kind_is_told_from_the_content_and_agrees_with_a_named_platform(
    name: str, platform: ComputePlatform
) -> None:
    text = (CORPUS / name).read_text(encoding="utf-8")

    assert parse_appspec(text, name).platform is platform
    assert parse_appspec(text, name, platform).platform is platform


def test_every_corpus_file_is_checked_above() -> None:
    assert len(list(CORPUS.iterdir())) == 6


def test_hooks_in_a_list_without_resources_read_as_lambda_or_ecs_by_their_names() -> None:
    assert problems_of("version: 0.0\nHooks:\n  - BeforeAllowTraffic: f\n") == [
        ("", 1, "missing required key 'Resources'")
    ]
    ecs_problems = problems_of("version: 0.0\nhooks:\n  - AfterAllowTestTraffic: f\n")
    assert ecs_problems == [("", 1, "missing required key 'Resources'")]  # AfterAllowTestTraffic is fine: ECS


def test_a_named_platform_wins_over_the_content() -> None:
    assert problems_of(LAMBDA, ComputePlatform.ECS) == [
        (
            "Resources[0].ordersFunction.Type",
            4,
            "'AWS::Lambda::Function' is not AWS::ECS::Service, the resource of Amazon ECS AppSpecs",
        ),
        ("Resources[0].ordersFunction.Properties", 5, "missing required key 'TaskDefinition'"),
        ("Resources[0].ordersFunction.Properties", 5, "missing required key 'LoadBalancerInfo'"),
        ("Resources[0].ordersFunction.Properties.Name", 6, "unknown key 'Name'"),
        ("Resources[0].ordersFunction.Properties.Alias", 7, "unknown key 'Alias'"),
        ("Resources[0].ordersFunction.Properties.CurrentVersion", 8, "unknown key 'CurrentVersion'"),
        ("Resources[0].ordersFunction.Properties.TargetVersion", 9, "unknown key 'TargetVersion'"),
    ]


def test_host_keys_in_a_lambda_appspec_say_where_they_belong() -> None:
    assert only_problem(LAMBDA + "files: []\n", ComputePlatform.LAMBDA) == (
        "files",
        13,
        "unknown key 'files' (it belongs to EC2/on-premises AppSpecs)",
    )
