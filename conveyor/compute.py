"""CodeBuild's compute types, and the build queue each one's builds wait in (pure: spec parsers use it)."""

from __future__ import annotations

COMPUTE_TYPES = (  # CodeBuild's ComputeType values
    "BUILD_GENERAL1_SMALL",
    "BUILD_GENERAL1_MEDIUM",
    "BUILD_GENERAL1_LARGE",
    "BUILD_GENERAL1_XLARGE",
    "BUILD_GENERAL1_2XLARGE",
    "BUILD_LAMBDA_1GB",
    "BUILD_LAMBDA_2GB",
    "BUILD_LAMBDA_4GB",
    "BUILD_LAMBDA_8GB",
    "BUILD_LAMBDA_10GB",
    "ATTRIBUTE_BASED_COMPUTE",
    "CUSTOM_INSTANCE_TYPE",
)


def build_queue(compute_type: str) -> str:
    """`BUILD_GENERAL1_SMALL` → `build-small`, `BUILD_LAMBDA_1GB` → `build-lambda-1gb`."""
    return "build-" + compute_type.removeprefix("BUILD_").removeprefix("GENERAL1_").lower().replace("_", "-")
