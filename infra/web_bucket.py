"""The web page's private bucket, and the bucket that keeps its access logs and the distribution's."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge

# Long enough to look into an incident, short enough not to keep visitors' addresses for long.
ACCESS_LOG_EXPIRY = Duration.days(90)
PAGE_LOG_PREFIX = "page-bucket/"
DISTRIBUTION_LOG_PREFIX = "distribution/"


class WebBucket(Construct):
    """``bucket`` holds the page and is read by CloudFront alone (origin access control, infra/web_distribution.py);
    ``logs`` receives the bucket's server access logs and CloudFront's standard logs.

    Both block public access, refuse plain HTTP and are encrypted with S3's own keys: the page is public content
    (CloudFront serves it to anyone), and CloudFront's standard logs cannot be written to a bucket under a KMS key.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.logs = s3.Bucket(
            self,
            "Logs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            # CloudFront's standard logs are delivered with an ACL, which S3 only accepts when ACLs are enabled.
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            lifecycle_rules=[s3.LifecycleRule(expiration=ACCESS_LOG_EXPIRY)],
        )
        acknowledge(
            self.logs,
            "AwsSolutions-S1",
            "The access log bucket itself: logging its own access would log into itself.",
        )
        self.bucket = s3.Bucket(
            self,
            "Page",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.logs,
            server_access_logs_prefix=PAGE_LOG_PREFIX,
        )
