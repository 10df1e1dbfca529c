"""Two ways to put the page in front of a browser, one package.

* a CloudFormation custom resource (`Custom::SitePublisher`): writes the page into the
  frontend bucket on Create and Update, empties the bucket on Delete, and answers
  CloudFormation on the pre-signed `ResponseURL`, FAILED with the reason on any error;
* an Application Load Balancer Lambda target: serves the same files.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.request
from collections.abc import Mapping
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger

from dataall_site.site import File, files

logger = Logger()


@cache
def _client(name: str) -> Any:
    return boto3.client(name)


def publish(bucket: str, config: Mapping[str, str], s3: Any) -> list[str]:
    written = []
    for file in files(config):
        s3.put_object(
            Bucket=bucket,
            Key=file.key,
            Body=file.body,
            ContentType=file.content_type,
            CacheControl=file.cache_control,
        )
        written.append(file.key)
    return written


def empty(bucket: str, s3: Any) -> int:
    removed = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            removed += len(keys)
    return removed


def invalidate(distribution_id: str, cloudfront: Any) -> None:
    cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/*"]},
            "CallerReference": str(time.time_ns()),
        },
    )


def on_event(event: Mapping[str, Any], s3: Any, cloudfront: Any) -> dict[str, Any]:
    properties = event["ResourceProperties"]
    bucket = properties["Bucket"]
    if event["RequestType"] == "Delete":
        return {"Removed": empty(bucket, s3)}
    written = publish(bucket, properties["Config"], s3)
    if properties.get("DistributionId"):
        invalidate(properties["DistributionId"], cloudfront)
    return {"Files": len(written)}


def answer(event: Mapping[str, Any], status: str, data: dict[str, Any], reason: str = "") -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:1000] or "See the function's log",
            "PhysicalResourceId": event.get("PhysicalResourceId") or f"{event['ResourceProperties']['Bucket']}/site",
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - CloudFormation's pre-signed https URL
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310
        pass


def custom_resource(event: Mapping[str, Any]) -> None:
    try:
        data = on_event(event, _client("s3"), _client("cloudfront"))
    except Exception as error:
        logger.exception("site publisher failed")
        answer(event, "FAILED", {}, f"{type(error).__name__}: {error}")
    else:
        answer(event, "SUCCESS", data)


def serve(path: str, config: Mapping[str, str]) -> dict[str, Any]:
    by_key = {file.key: file for file in files(config)}
    key = path.lstrip("/") or "index.html"
    # A path the site does not have is a client-side route: answer with the page.
    file: File = by_key.get(key) or by_key["index.html"]
    return {
        "statusCode": 200,
        "statusDescription": "200 OK",
        "isBase64Encoded": True,
        "headers": {
            "Content-Type": file.content_type,
            "Cache-Control": file.cache_control,
            "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
        },
        "body": base64.b64encode(file.body).decode(),
    }


@logger.inject_lambda_context
def handler(event: dict[str, Any], _context: Any) -> dict[str, Any] | None:
    if "RequestType" in event:
        custom_resource(event)
        return None
    if event.get("httpMethod") not in ("GET", "HEAD"):
        return {"statusCode": 405, "statusDescription": "405 Method Not Allowed", "body": ""}
    return serve(str(event.get("path", "/")), json.loads(os.environ["SITE_CONFIG"]))
