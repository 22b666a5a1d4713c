"""An ELBv2 world in moto for deploy tests: a VPC with two subnets, a load balancer, target groups, listeners."""

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
