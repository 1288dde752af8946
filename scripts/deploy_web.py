"""`make web-deploy STACK=<name>`: upload the console's build (web/dist) to its bucket and let
CloudFront serve it (the ConsoleBucketName / ConsoleDistributionId outputs of template.yaml).

Fingerprinted files under assets/ are cached for good; everything else (index.html) is
revalidated each time, and CloudFront's copy of it is invalidated, so a deploy shows at once.
Old assets stay, so a page loaded before the deploy keeps working. `--bucket` (and optionally
`--distribution`) instead of `--stack` skips the stack lookup.
"""

from __future__ import annotations

import argparse
import mimetypes
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.infra import aws  # noqa: E402

DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def stack_outputs(stack: str) -> dict[str, str]:
    described = aws.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def upload(bucket: str, dist: Path = DIST) -> list[str]:
    """Every file of the build, assets first (so index.html never names a missing one)."""
    if not (dist / "index.html").is_file():
        raise SystemExit(f"{dist} has no build: run the bring-up (scripts/build_web.sh) first")
    files = sorted(
        (p for p in dist.rglob("*") if p.is_file() and not p.name.startswith(".")),
        key=lambda p: (p.parent.name != "assets", str(p)),
    )
    s3 = aws.client("s3")
    keys = []
    for path in files:
        key = path.relative_to(dist).as_posix()
        s3.upload_file(
            str(path),
            bucket,
            key,
            ExtraArgs={
                "ContentType": mimetypes.guess_type(path.name)[0] or "application/octet-stream",
                "CacheControl": IMMUTABLE if key.startswith("assets/") else REVALIDATE,
            },
        )
        keys.append(key)
    return keys


def invalidate(distribution: str, keys: list[str]) -> str:
    paths = ["/"] + [f"/{k}" for k in keys if not k.startswith("assets/")]
    reply = aws.client("cloudfront").create_invalidation(
        DistributionId=distribution,
        InvalidationBatch={
            "Paths": {"Quantity": len(paths), "Items": paths},
            "CallerReference": str(time.time_ns()),
        },
    )
    return reply["Invalidation"]["Id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", help="CloudFormation stack deployed from template.yaml")
    parser.add_argument("--bucket", help="the console bucket (instead of --stack)")
    parser.add_argument("--distribution", help="the CloudFront distribution id (with --bucket)")
    args = parser.parse_args()
    if not (args.stack or args.bucket):
        parser.error("give --stack NAME (or --bucket)")
    bucket, distribution = args.bucket, args.distribution
    if args.stack:
        outputs = stack_outputs(args.stack)
        bucket, distribution = outputs["ConsoleBucketName"], outputs["ConsoleDistributionId"]
    keys = upload(bucket)
    print(f"uploaded {len(keys)} files to s3://{bucket}")
    if distribution:
        print(f"invalidation {invalidate(distribution, keys)} on {distribution}")


if __name__ == "__main__":
    main()
