"""EC2's AWS-managed prefix lists, read by name."""

from __future__ import annotations

from typing import Any


def s3_prefix_list(ec2: Any, region: str) -> str | None:
    """The id of S3's AWS-managed prefix list in `region` (`ec2` is that region's client), or None.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribePrefixLists.html"""
    lists = ec2.describe_prefix_lists(Filters=[{"Name": "prefix-list-name", "Values": [f"com.amazonaws.{region}.s3"]}])
    found = [str(item["PrefixListId"]) for item in lists.get("PrefixLists", []) if item.get("PrefixListId")]
    return found[0] if found else None
