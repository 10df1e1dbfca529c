"""Context values each region has its own of, looked up by Plan in the region of the stages that read them.

data.all's ECS task security groups reach S3 through its gateway endpoint by S3's AWS-managed prefix
list (`com.amazonaws.<region>.s3`), whose id each region has its own of: data.all's synthesis looks it
up (`backend_stack.get_s3_prefix_list`), the release takes it as the `S3PrefixListId` parameter
(`blueprints.dataall.rules.s3_egress_of_the_installations_region`), and Plan fills it per run from
DescribePrefixLists in the stage's region, as it fills `Region`. A stage in the workflow's region
reads `S3PrefixListId`; a stage of another region reads its own region's, which the run's parameters
hold as `S3PrefixListId@<region>` (`Deps.stage_context`). A region without the list refuses the run
before anything changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lambdas.core.deps import REGIONAL_SEPARATOR
from lambdas.core.errors import RegionUnsupported
from lambdas.data.prefix_lists import s3_prefix_list
from lambdas.release.manifest import Step

S3_PREFIX_LIST = "S3PrefixListId"


def make(steps: Mapping[str, Step], home: str, regional_client: Callable[[str, str], Any]) -> dict[str, str]:
    """`S3PrefixListId` for the workflow's region and `S3PrefixListId@<region>` for each other region,
    of the regions whose stages (of `steps`, the run's) read it; none when no stage does."""
    readers: dict[str, str] = {}
    for step in steps.values():
        if step.reads_param(S3_PREFIX_LIST):
            readers.setdefault(step.region_in(home), step.name)
    values = {}
    for region, stage in sorted(readers.items()):
        found = s3_prefix_list(regional_client("ec2", region), region)
        if found is None:
            raise RegionUnsupported(
                f"region {region} has no AWS-managed prefix list com.amazonaws.{region}.s3, which stage {stage} "
                f"gives its security groups' S3 egress rule ({S3_PREFIX_LIST}); nothing was changed",
                field=f"stages.{stage}.parameters.{S3_PREFIX_LIST}",
            )
        values[S3_PREFIX_LIST if region == home else f"{S3_PREFIX_LIST}{REGIONAL_SEPARATOR}{region}"] = found
    return values
