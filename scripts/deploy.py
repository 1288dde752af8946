"""`make deploy STACK=name [REGION=...] [MAIL_FROM=...] [DOMAIN=...]` and `make destroy STACK=name`.

Each command is a fixed list of steps, every one an outside program (aws, docker, sam) or one of
our scripts, run in order; the first that fails stops the run. `--dry-run` prints the same list
without running anything: values only a real run learns (the account, the image digest, the
stack's outputs) print as <placeholders>. What each step does is its title.

deploy: preflight (stack name, tools and the pinned SAM CLI, identity, Lambda concurrency quota,
SES identity of MAIL_FROM), the ECR repository, the worker image built for the task's
architecture, pushed, tagged by commit and passed by digest, `scripts/package.py`, `sam deploy`,
the console built and uploaded, then a smoke check through CloudFront (/v1/health,
/v1/openapi.json), the regional endpoint refusing a request that skipped CloudFront (403), and
one dispatcher invocation.

destroy: the stack deleted (its console bucket is emptied by the stack's own custom resource,
and here first as well), then what the stack retains on purpose: the media bucket (emptied and
deleted), the provider-keys KMS key (scheduled for deletion, 7 days), the ECR repository.
Aurora's final snapshot (DeletionPolicy: Snapshot) is kept: delete it by hand when sure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAM_CLI_VERSION = "1.170.0"  # the version this template and `sam deploy` flags were written for
TASK_PLATFORM = "linux/amd64"  # template.yaml, WorkerTaskDefinition RuntimePlatform X86_64
# ElastiCache's ServerlessCacheName (the stack name) allows 40 lowercase characters; the longest
# name derived here is "<stack>-console-spa" (CloudFront: 64).
STACK_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
RESERVED_FUNCTIONS = 3  # ReserveSingletonConcurrency: reaper, dispatcher, cleanup
LAMBDA_UNRESERVED_MINIMUM = 10  # Lambda keeps at least this much unreserved


class StepFailed(SystemExit):
    pass


@dataclass
class Step:
    """One step: `argv` (with {placeholders} filled from earlier steps' results), or `action`
    (a Python callable over the results, for checks and HTTP). `save` keeps its result under a
    name, parsed from stdout by `parse`."""

    title: str
    argv: list[str] = field(default_factory=list)
    action: Callable[[dict[str, str]], str] | None = None
    save: str | None = None
    parse: Callable[[str], str] = str.strip
    env: dict[str, str] = field(default_factory=dict)
    stdin_from: str | None = None  # feed a saved value on stdin (docker login's password)

    def shown(self, values: dict[str, str]) -> str:
        argv = [fill(arg, values) for arg in self.argv]
        env = " ".join(f"{k}={shlex.quote(fill(v, values))}" for k, v in self.env.items())
        text = shlex.join(argv) if argv else f"(in this process) {fill(self.title, values)}"
        return (f"{env} " if env else "") + text + (f" < <{self.stdin_from}>" if self.stdin_from else "")


class _Shown(dict):
    def __missing__(self, key: str) -> str:
        return f"<{key}>"


def fill(text: str, values: dict[str, str]) -> str:
    return text.format_map(_Shown(values))


# ---- checks (pure: tested without AWS) ---------------------------------------------------------
def check_stack_name(name: str) -> str:
    if not STACK_NAME.match(name or ""):
        raise StepFailed(
            f"STACK {name!r}: 1-40 lowercase letters, digits and hyphens, starting with a letter"
        )
    return name


def check_sam_version(output: str) -> str:
    found = re.search(r"(\d+\.\d+\.\d+)", output)
    if not found or found.group(1) != SAM_CLI_VERSION:
        raise StepFailed(
            f"SAM CLI {SAM_CLI_VERSION} is required (pip install aws-sam-cli=={SAM_CLI_VERSION}), found {output!r}"
        )
    return found.group(1)


def check_concurrency(account_settings: str, reserve: bool) -> str:
    limit = int(json.loads(account_settings)["AccountLimit"]["ConcurrentExecutions"])
    needed = LAMBDA_UNRESERVED_MINIMUM + (RESERVED_FUNCTIONS if reserve else 0)
    if limit < needed:
        raise StepFailed(
            f"the account's Lambda concurrency quota is {limit}; ReserveSingletonConcurrency=true needs "
            f"{needed}: deploy with RESERVE=false or ask for a quota increase"
        )
    return str(limit)


def check_ses_identity(identity: str) -> str:
    if not json.loads(identity).get("VerifiedForSendingStatus"):
        raise StepFailed(
            "MAIL_FROM's SES identity is not verified for sending (aws sesv2 create-email-identity)"
        )
    return "verified"


def check_invocation(function_error: str) -> str:
    if function_error.strip() not in ("None", ""):
        raise StepFailed(f"the dispatcher's invocation failed: {function_error.strip()} (see its log group)")
    return "ok"


def stack_output(outputs_json: str, key: str) -> str:
    outputs = json.loads(outputs_json)["Stacks"][0].get("Outputs", [])
    return next(o["OutputValue"] for o in outputs if o["OutputKey"] == key)


def http_ok(url: str) -> str:
    if not url.startswith("https://"):
        raise StepFailed(f"smoke check: {url} is not https")
    with urllib.request.urlopen(url, timeout=30) as reply:  # nosec B310
        body = reply.read()
    if reply.status != 200:
        raise StepFailed(f"smoke check: {url} answered {reply.status}")
    return f"{reply.status} ({len(body)} bytes)"


def http_refused(url: str) -> str:
    """`url` answers 403 `origin_required`: the regional endpoint is no way around CloudFront."""
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:  # nosec B310
            raise StepFailed(f"smoke check: {url} answered {reply.status} without CloudFront's header")
    except urllib.error.HTTPError as refused:
        body = refused.read(4096)
        if refused.code != 403 or b"origin_required" not in body:
            raise StepFailed(f"smoke check: {url} answered {refused.code}: {body[:200]!r}") from None
    return "403 origin_required"


# ---- the two plans ----------------------------------------------------------------------------
def deploy_steps(args: argparse.Namespace) -> list[Step]:
    stack, region = args.stack, args.region
    aws = ["aws", "--region", region, "--output", "json"]
    repo = f"{stack}-worker"
    registry = "{account}.dkr.ecr." + region + ".amazonaws.com"
    mail_from = args.mail_from or (f"no-reply@{args.domain}" if args.domain else "")
    overrides = [
        f"Stage={args.stage}",
        "WorkerImage={image_digest}",
        f"ReserveSingletonConcurrency={str(args.reserve).lower()}",
    ]
    if mail_from:
        overrides.append(f"MailFrom={mail_from}")
    if args.domain:
        overrides.append(f"PublicUrl=https://{args.domain}")
    if args.platform_providers:
        overrides.append(f"PlatformProviders={args.platform_providers}")
    steps = [
        Step(
            "preflight: the stack name fits every resource name derived from it",
            action=lambda v: check_stack_name(stack),
        ),
        Step("preflight: docker answers", ["docker", "version", "--format", "{{{{.Server.Version}}}}"]),
        Step(
            f"preflight: SAM CLI {SAM_CLI_VERSION}",
            ["sam", "--version"],
            action=None,
            save="sam",
            parse=check_sam_version,
        ),
        Step(
            "preflight: the AWS identity",
            [*aws, "sts", "get-caller-identity", "--query", "Account", "--output", "text"],
            save="account",
        ),
        Step(
            "preflight: the Lambda concurrency quota",
            [*aws, "lambda", "get-account-settings"],
            save="concurrency",
            parse=lambda out: check_concurrency(out, args.reserve),
        ),
    ]
    if mail_from:
        # SES sends as an address when it or its domain is a verified identity.
        identity = [*aws, "sesv2", "get-email-identity", "--email-identity"]
        address_or_domain = f"{shlex.join([*identity, mail_from])} 2>/dev/null || {shlex.join([*identity, mail_from.split('@')[-1]])}"
        steps.append(
            Step(
                f"preflight: SES may send as {mail_from}",
                ["bash", "-c", address_or_domain],
                save="ses",
                parse=check_ses_identity,
            )
        )
    steps += [
        Step(
            "the worker's ECR repository (created once)",
            [
                "bash",
                "-c",
                f"{shlex.join([*aws, 'ecr', 'describe-repositories', '--repository-names', repo])} >/dev/null 2>&1 || {shlex.join([*aws, 'ecr', 'create-repository', '--repository-name', repo, '--image-scanning-configuration', 'scanOnPush=true'])}",
            ],
        ),
        Step(
            "the commit the image is tagged with",
            ["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],
            save="commit",
        ),
        Step("ECR login password", [*aws, "ecr", "get-login-password"], save="ecr_password"),
        Step(
            "docker login to ECR",
            ["docker", "login", "--username", "AWS", "--password-stdin", registry],
            stdin_from="ecr_password",
        ),
        Step(
            f"the worker image, built for the task's architecture ({TASK_PLATFORM})",
            [
                "docker",
                "build",
                "--platform",
                TASK_PLATFORM,
                "-f",
                "containers/worker/Dockerfile",
                "-t",
                f"{registry}/{repo}:{{commit}}",
                ".",
            ],
        ),
        Step("the image pushed", ["docker", "push", f"{registry}/{repo}:{{commit}}"]),
        Step(
            "its digest (the stack runs exactly this image)",
            [
                "docker",
                "inspect",
                "--format",
                "{{{{index .RepoDigests 0}}}}",
                f"{registry}/{repo}:{{commit}}",
            ],
            save="image_digest",
        ),
        Step(
            "the package: out/package/sam.yaml and deployment.zip, checked offline",
            [sys.executable, "scripts/package.py", "out/package"],
        ),
        Step(
            "sam deploy",
            [
                "sam",
                "deploy",
                "--template-file",
                "out/package/sam.yaml",
                "--stack-name",
                stack,
                "--region",
                region,
                "--resolve-s3",
                "--capabilities",
                "CAPABILITY_IAM",
                "CAPABILITY_AUTO_EXPAND",
                "--no-confirm-changeset",
                "--no-fail-on-empty-changeset",
                "--parameter-overrides",
                *overrides,
            ],
        ),  # fmt: skip
        Step(
            "the stack's outputs",
            [*aws, "cloudformation", "describe-stacks", "--stack-name", stack],
            save="outputs",
        ),
        Step("the console build (web/dist)", ["bash", "scripts/build_web.sh"]),
        Step(
            "the console uploaded to its bucket, CloudFront invalidated",
            [sys.executable, "scripts/deploy_web.py", "--stack", stack],
            env={"STAGE": args.stage, "AWS_REGION": region, "AWS_ENDPOINT_URL": ""},
        ),
        Step(
            "smoke: the console URL",
            action=lambda v: stack_output(v["outputs"], "ConsoleUrl").rstrip("/"),
            save="console_url",
        ),
        Step(
            "smoke: GET {console_url}/v1/health through CloudFront",
            action=lambda v: http_ok(f"{v['console_url']}/v1/health"),
        ),
        Step(
            "smoke: GET {console_url}/v1/openapi.json",
            action=lambda v: http_ok(f"{v['console_url']}/v1/openapi.json"),
        ),
        Step(
            "smoke: the regional API's URL",
            action=lambda v: stack_output(v["outputs"], "ApiUrl"),
            save="api_url",
        ),
        Step(
            "smoke: GET {api_url}v1/health around CloudFront is refused (403)",
            action=lambda v: http_refused(f"{v['api_url']}v1/health"),
        ),
        Step(
            "smoke: the dispatcher's function name",
            [
                *aws,
                "cloudformation",
                "describe-stack-resource",
                "--stack-name",
                stack,
                "--logical-resource-id",
                "DispatcherFunction",
                "--query",
                "StackResourceDetail.PhysicalResourceId",
                "--output",
                "text",
            ],
            save="dispatcher",
        ),  # fmt: skip
        Step(
            "smoke: one dispatcher invocation (fails on a function error)",
            [
                *aws,
                "lambda",
                "invoke",
                "--function-name",
                "{dispatcher}",
                "--query",
                "FunctionError",
                "--output",
                "text",
                "/dev/null",
            ],
            parse=check_invocation,
        ),
    ]
    return steps


def destroy_steps(args: argparse.Namespace) -> list[Step]:
    stack, region = args.stack, args.region
    aws = ["aws", "--region", region, "--output", "json"]
    resource = [*aws, "cloudformation", "describe-stack-resource", "--stack-name", stack, "--query", "StackResourceDetail.PhysicalResourceId", "--output", "text", "--logical-resource-id"]  # fmt: skip
    return [
        Step("preflight: the stack name", action=lambda v: check_stack_name(stack)),
        Step(
            "preflight: the AWS identity",
            [*aws, "sts", "get-caller-identity", "--query", "Account", "--output", "text"],
            save="account",
        ),
        Step("the console bucket", [*resource, "ConsoleBucket"], save="console_bucket"),
        Step("the media bucket (retained by the stack)", [*resource, "MediaBucket"], save="media_bucket"),
        Step(
            "the provider-keys KMS key (retained by the stack)",
            [*resource, "ProviderKeysKey"],
            save="kms_key",
        ),
        Step("the console bucket emptied", [*aws, "s3", "rm", "s3://{console_bucket}", "--recursive"]),
        Step("the stack deleted", [*aws, "cloudformation", "delete-stack", "--stack-name", stack]),
        Step(
            "until the delete completes",
            [*aws, "cloudformation", "wait", "stack-delete-complete", "--stack-name", stack],
        ),
        Step("the media bucket emptied", [*aws, "s3", "rm", "s3://{media_bucket}", "--recursive"]),
        Step("the media bucket deleted", [*aws, "s3api", "delete-bucket", "--bucket", "{media_bucket}"]),
        Step(
            "the KMS key scheduled for deletion (7 days)",
            [*aws, "kms", "schedule-key-deletion", "--key-id", "{kms_key}", "--pending-window-in-days", "7"],
        ),
        Step(
            "the worker's ECR repository deleted",
            [*aws, "ecr", "delete-repository", "--repository-name", f"{stack}-worker", "--force"],
        ),
    ]


# ---- running ------------------------------------------------------------------------------------
def run(steps: list[Step], dry_run: bool, out=None) -> dict[str, str]:
    out = out or sys.stdout
    values: dict[str, str] = {}
    for number, step in enumerate(steps, 1):
        print(
            f"[{number}/{len(steps)}] {fill(step.title, values)}\n      {step.shown(values)}",
            file=out,
            flush=True,
        )
        if dry_run:
            continue
        if step.argv:
            env = {**os.environ, **{k: fill(v, values) for k, v in step.env.items()}}
            env = {k: v for k, v in env.items() if v != ""}  # "" unsets (AWS_ENDPOINT_URL)
            proc = subprocess.run(  # nosec B603
                [fill(arg, values) for arg in step.argv],
                cwd=ROOT,
                env=env,
                input=values[step.stdin_from] if step.stdin_from else None,
                # captured when its result is used; otherwise it streams (docker build, sam deploy)
                stdout=subprocess.PIPE if step.save or step.parse is not str.strip else None,
                text=True,
            )
            if proc.returncode != 0:
                raise StepFailed(f"step {number} ({step.title}) failed with exit {proc.returncode}")
            result = step.parse(proc.stdout or "")
        else:
            assert step.action is not None
            result = step.action(values)
        if step.save:
            values[step.save] = result
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["deploy", "destroy"])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--region", default="us-east-1")
    # prod turns on Aurora's deletion protection (destroy then stops at the database)
    parser.add_argument("--stage", default="dev", choices=["dev", "staging", "prod"])
    parser.add_argument("--mail-from", default="", help="an SES-verified sender (default no-reply@DOMAIN)")
    parser.add_argument("--domain", default="", help="the console's custom domain (PublicUrl https://DOMAIN)")
    parser.add_argument("--reserve", action="store_true", help="ReserveSingletonConcurrency=true")
    parser.add_argument(
        "--platform-providers", default="", help="PlatformProviders, e.g. openai (README, Platform AI)"
    )
    parser.add_argument("--dry-run", action="store_true", help="print every step, run none")
    args = parser.parse_args(argv)
    check_stack_name(args.stack)
    steps = deploy_steps(args) if args.command == "deploy" else destroy_steps(args)
    run(steps, args.dry_run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
