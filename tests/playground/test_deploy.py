"""`boltq playground deploy` against moto's S3, CloudFront and CloudFormation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from boltq_local import cli, playground
from boltq_local.playground import (
    IMMUTABLE,
    NO_CACHE,
    SHORT,
    cache_control,
    content_type,
    deploy,
    invalidate,
)

BUCKET = "boltq-playground-test"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                 "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        yield s3


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A dist/ shaped like Vite's output (the real build is exercised by the e2e test)."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text('<!doctype html><script src="./assets/index-AbC123xy.js">')
    (dist / "assets" / "index-AbC123xy.js").write_text("console.log(1)")
    (dist / "assets" / "index-Zz9_8-7Q.css").write_text("body{}")
    (dist / "favicon.svg").write_text("<svg/>")
    (dist / "config.json").write_text('{"apiUrl": "stale"}')
    return dist


def head(s3: Any, key: str) -> dict[str, Any]:
    return s3.head_object(Bucket=BUCKET, Key=key)


def test_policies() -> None:
    assert cache_control("index.html") == NO_CACHE
    assert cache_control("config.json") == NO_CACHE
    assert cache_control("assets/index-AbC123xy.js") == IMMUTABLE
    assert cache_control("favicon.svg") == SHORT
    assert content_type("assets/a.js").startswith("text/javascript")
    assert content_type("a.css").startswith("text/css")
    assert content_type("index.html").startswith("text/html")
    assert content_type("x.unknownext") == "application/octet-stream"


def distribution(bucket: str = BUCKET) -> str:
    """A CloudFront distribution in front of the bucket, as the template makes it."""
    cf = boto3.client("cloudfront", region_name="us-east-1")
    origin = f"{bucket}.s3.us-east-1.amazonaws.com"
    return str(cf.create_distribution(DistributionConfig={
        "CallerReference": "test", "Comment": "playground", "Enabled": True,
        "DefaultRootObject": "index.html",
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "playground-bucket", "DomainName": origin,
            "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "playground-bucket",
                                 "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
    })["Distribution"]["Id"])


def invalidated_paths(dist_id: str) -> list[list[str]]:
    cf = boto3.client("cloudfront", region_name="us-east-1")
    listed = cf.list_invalidations(DistributionId=dist_id)["InvalidationList"]
    out = []
    for item in listed.get("Items", []):
        inv = cf.get_invalidation(DistributionId=dist_id, Id=item["Id"])["Invalidation"]
        out.append(sorted(inv["InvalidationBatch"]["Paths"]["Items"]))
    return out


def test_deploy_uploads_with_types_caching_and_config(aws: Any, build: Path) -> None:
    aws.put_object(Bucket=BUCKET, Key="assets/index-OLD00000.js", Body=b"old")
    keys = deploy(build, BUCKET, "https://api.example/prod", "wss://ws.example/prod", s3=aws)
    assert keys[-2:] == ["config.json", "index.html"]  # the page goes up last
    listed = {o["Key"] for o in aws.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert listed == {"index.html", "config.json", "favicon.svg", "assets/index-AbC123xy.js",
                      "assets/index-Zz9_8-7Q.css"}  # the old build's asset is gone
    h = head(aws, "index.html")
    assert h["ContentType"] == "text/html; charset=utf-8" and h["CacheControl"] == NO_CACHE
    h = head(aws, "assets/index-AbC123xy.js")
    assert h["ContentType"].startswith("text/javascript") and h["CacheControl"] == IMMUTABLE
    h = head(aws, "assets/index-Zz9_8-7Q.css")
    assert h["ContentType"].startswith("text/css") and h["CacheControl"] == IMMUTABLE
    assert head(aws, "favicon.svg")["ContentType"] == "image/svg+xml"
    h = head(aws, "config.json")
    assert h["ContentType"] == "application/json" and h["CacheControl"] == NO_CACHE
    config = json.loads(aws.get_object(Bucket=BUCKET, Key="config.json")["Body"].read())
    assert config == {"apiUrl": "https://api.example/prod", "wsUrl": "wss://ws.example/prod"}
    # the bucket is private behind CloudFront: no website endpoint is turned on
    with pytest.raises(aws.exceptions.ClientError, match="NoSuchWebsiteConfiguration"):
        aws.get_bucket_website(Bucket=BUCKET)


def test_invalidate_asks_cloudfront_for_the_page_and_its_config(aws: Any) -> None:
    dist_id = distribution()
    ref = invalidate(dist_id)
    assert ref
    assert invalidated_paths(dist_id) == [["/config.json", "/index.html"]]


def test_deploy_needs_a_build(aws: Any, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="npm run build"):
        deploy(tmp_path, BUCKET, "", "", s3=aws)


OUTPUTS = {
    "PlaygroundBucketName": BUCKET,
    "PlaygroundDistributionId": "E2EXAMPLE",
    "ApiUrl": "https://abc.execute-api.us-east-1.amazonaws.com/prod",
    "WebSocketUrl": "wss://def.execute-api.us-east-1.amazonaws.com/prod",
}


def test_stack_outputs() -> None:
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", {"Stacks": [{
            "StackName": "boltq", "CreationTime": "2026-01-01T00:00:00Z",
            "StackStatus": "CREATE_COMPLETE",
            "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in OUTPUTS.items()],
        }]}, {"StackName": "boltq"})
        assert playground.stack_outputs("boltq", cfn) == OUTPUTS


def test_command_reads_the_stack_outputs(aws: Any, build: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    asked = []
    outputs = {**OUTPUTS, "PlaygroundDistributionId": distribution(),
               "PlaygroundUrl": "https://d111111abcdef8.cloudfront.net"}
    monkeypatch.setattr(playground, "stack_outputs", lambda s: asked.append(s) or outputs)
    assert cli.main(["playground", "deploy", "--stack", "boltq-test", "--dist", str(build)]) == 0
    assert asked == ["boltq-test"]
    out = capsys.readouterr().out
    assert f"s3://{BUCKET}" in out and "invalidation" in out
    assert "playground: https://d111111abcdef8.cloudfront.net" in out
    assert invalidated_paths(outputs["PlaygroundDistributionId"]) == [
        ["/config.json", "/index.html"]]
    config = json.loads(aws.get_object(Bucket=BUCKET, Key="config.json")["Body"].read())
    assert config["apiUrl"].endswith("/prod") and config["wsUrl"].startswith("wss://def.")


def test_command_without_a_distribution_says_the_old_page_may_linger(
        aws: Any, build: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["playground", "deploy", "--bucket", BUCKET, "--api-url", "a",
                     "--ws-url", "b", "--dist", str(build)])
    assert code == 0
    assert "no CloudFront distribution" in capsys.readouterr().err
    dist_id = distribution()
    code = cli.main(["playground", "deploy", "--bucket", BUCKET, "--api-url", "a",
                     "--ws-url", "b", "--dist", str(build), "--distribution", dist_id])
    assert code == 0 and invalidated_paths(dist_id) == [["/config.json", "/index.html"]]


def test_command_explains_a_missing_build(aws: Any, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["playground", "deploy", "--bucket", BUCKET, "--api-url", "a",
                     "--ws-url", "b", "--dist", str(tmp_path)])
    assert code == 1
    assert "npm run build" in capsys.readouterr().err
