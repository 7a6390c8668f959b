"""The classic hand-written purge handler, for the cold-start benchmark only.

Written the way such handlers usually are: boto3 clients built at import (so a cold start pays
for them before the first poll, as purgeflow's Lambdas pay for their SDK clients at init), then,
per REMOVE record of the stream batch, one DeleteObject and one CreateInvalidation with a
time-based caller reference. Run by awslambdaric, as the Lambda Python runtime runs it:

    python -m awslambdaric classic_handler.handler
"""

import os
import time

import boto3

BUCKET = os.environ["PURGE_BUCKET"]
DISTRIBUTION_ID = os.environ["PURGE_DISTRIBUTION_ID"]

s3 = boto3.client("s3")
cloudfront = boto3.client("cloudfront")


def object_key(image):
    """`{photo_id}.{type|subtype}`, as purgeflow's photo samples are configured."""
    subtype = image["type"]["S"].split("/", 1)[1]
    return f'{image["photo_id"]["S"]}.{subtype}'


def handler(event, context):
    for record in event.get("Records", []):
        if record.get("eventName") != "REMOVE":
            continue
        image = record["dynamodb"].get("OldImage")
        if not image:
            continue
        key = object_key(image)
        s3.delete_object(Bucket=BUCKET, Key=key)
        cloudfront.create_invalidation(
            DistributionId=DISTRIBUTION_ID,
            InvalidationBatch={
                "Paths": {"Quantity": 1, "Items": [f"/{key}"]},
                "CallerReference": f'{record["eventID"]}-{time.time_ns()}',
            },
        )
    return {"batchItemFailures": []}
