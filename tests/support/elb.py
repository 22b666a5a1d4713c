"""An ELBv2 world in moto for deploy tests: a VPC with two subnets, a load balancer, target groups, listeners; and
Classic Load Balancers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class ElbWorld:
    ec2: Any
    elbv2: Any
    vpc_id: str
    subnet_id: str
    load_balancer_arn: str

    def target_group(self, name: str, target_type: str = "ip", port: int = 80) -> str:
        made = self.elbv2.create_target_group(
            Name=name, Protocol="HTTP", Port=port, VpcId=self.vpc_id, TargetType=target_type
        )
        arn: str = made["TargetGroups"][0]["TargetGroupArn"]
        return arn

    def listener(self, port: int, target_group_arn: str) -> str:
        made = self.elbv2.create_listener(
            LoadBalancerArn=self.load_balancer_arn,
            Protocol="HTTP",
            Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group_arn}],
        )
        arn: str = made["Listeners"][0]["ListenerArn"]
        return arn

    def instance(self) -> str:
        made = self.ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=self.subnet_id)
        instance_id: str = made["Instances"][0]["InstanceId"]
        return instance_id


def elb_world(ec2: Any, elbv2: Any) -> ElbWorld:
    """A VPC, two subnets in two zones and an application load balancer on them (inside `mock_aws`)."""
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{index}.0/24", AvailabilityZone=f"us-east-1{zone}")
        for index, zone in ((1, "a"), (2, "b"))
    ]
    ids = [subnet["Subnet"]["SubnetId"] for subnet in subnets]
    balancer = elbv2.create_load_balancer(Name="conveyor-test", Subnets=ids)["LoadBalancers"][0]
    return ElbWorld(ec2, elbv2, vpc_id, ids[0], balancer["LoadBalancerArn"])


def classic_load_balancer(
    elb: Any, name: str, instances: tuple[str, ...] = (), draining_seconds: int | None = None
) -> None:
    """A Classic Load Balancer forwarding port 80 to 8080, with `instances` registered and connection draining on
    when `draining_seconds` is given."""
    listener = {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}
    elb.create_load_balancer(LoadBalancerName=name, Listeners=[listener], AvailabilityZones=["us-east-1a"])
    if draining_seconds is not None:
        elb.modify_load_balancer_attributes(
            LoadBalancerName=name,
            LoadBalancerAttributes={"ConnectionDraining": {"Enabled": True, "Timeout": draining_seconds}},
        )
    if instances:
        elb.register_instances_with_load_balancer(
            LoadBalancerName=name, Instances=[{"InstanceId": instance} for instance in instances]
        )


def in_service(elb: Any, name: str) -> set[str]:
    """The instances a Classic Load Balancer reports InService."""
    states = elb.describe_instance_health(LoadBalancerName=name)["InstanceStates"]
    return {state["InstanceId"] for state in states if state["State"] == "InService"}


def registered_instances(elb: Any, name: str) -> set[str]:
    """The instances registered with a Classic Load Balancer, whatever their state."""
    [found] = elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"]
    return {instance["InstanceId"] for instance in found["Instances"]}
