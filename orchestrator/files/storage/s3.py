"""An S3-compatible bucket as storage (AWS, MinIO, Ceph...), for deployments whose API and workers do not share
a disk. Credentials come the standard AWS ways (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, an
instance role); needs the `s3` extra (boto3)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from orchestrator.files.storage import BlobNotFound

if TYPE_CHECKING:
    from orchestrator.settings import Settings


class S3Storage:
    def __init__(self, bucket: str, client: Any) -> None:
        self.bucket = bucket
        self.client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        if not settings.s3_bucket:
            raise ValueError("ORCH_FILES_BACKEND=s3 needs ORCH_S3_BUCKET")
        client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region)
        return cls(settings.s3_bucket, client)

    def put(self, key: str, data: bytes) -> None:
        # One PUT replaces the object atomically: readers get the old object or the new one.
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def get(self, key: str) -> bytes:
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BlobNotFound(key) from None
            raise
        body: bytes = reply["Body"].read()
        return body

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)
