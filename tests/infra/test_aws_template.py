"""The SAM template passes cfn-lint, serves the router's URL space with the same functions, and its bundles
hold what each handler imports."""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from functions.reminders.app import (
    DELIVER_OUTBOX_EVENT,
    SETTLE_STORAGE_EVENT,
    is_outbox_delivery_event,
    is_scheduled_event,
    is_storage_settlement_event,
)
from infra.aws.bundle import stage
from tasktracker.adapters.s3.storage import BUCKET_LIFECYCLE
from tasktracker.routes import load_routes, route_for
from tests.infra.tooling import ROOT, function_names, require_tool

TEMPLATE = ROOT / "infra" / "aws" / "template.yaml"
EVENTS = ROOT / "tests" / "fixtures" / "aws-events"


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads !Ref, !Sub and the other short-form intrinsics as plain values."""


_CloudFormationLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


@cache
def _template() -> dict[str, Any]:
    template: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=_CloudFormationLoader)
    return template


def _functions() -> dict[str, dict[str, Any]]:
    """Properties of each AWS::Serverless::Function, by the functions/ folder its handler names."""
    found = {}
    for resource in _template()["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            handler = resource["Properties"]["Handler"]
            found[handler.split(".")[1]] = resource["Properties"]
    return found


def _api_routes() -> list[tuple[str, str]]:
    """(path template, function) for every HTTP API event."""
    return [
        (event["Properties"]["Path"], name)
        for name, properties in _functions().items()
        for event in properties.get("Events", {}).values()
        if event["Type"] == "HttpApi"
    ]


def _api_gateway_match(path: str, routes: list[tuple[str, str]]) -> str | None:
    """The function API Gateway picks: the most specific matching route, greedy {proxy+} ones last."""
    matching = []
    for template, function in routes:
        pattern = re.sub(r"\\\{[^/]+\\\+\\\}", ".+", re.escape(template))
        pattern = re.sub(r"\\\{[^/]+\\\}", "[^/]+", pattern)
        if re.fullmatch(pattern, path):
            literal_segments = sum(1 for part in template.split("/") if part and not part.startswith("{"))
            matching.append(("+}" not in template, literal_segments, function))
    return max(matching)[2] if matching else None


# How each construct of the route table's patterns is sampled. A bare trailing slash is left out: API
# Gateway routes `/x` and `/x/{proxy+}`, and neither takes `/x/`.
_SAMPLES = {"(/|$)": ("", "/x", "/x/y"), "/?$": ("",), "$": ("",)}


def _sample_paths(pattern: str) -> list[str]:
    """Paths a route table pattern matches: each alternative taken both ways."""
    variants = [pattern.removeprefix("^").replace("[^/]+", "123").replace("\\.", ".")]
    for construct, choices in _SAMPLES.items():
        variants = [
            variant.replace(construct, choice, 1) if construct in variant else variant
            for variant in variants
            for choice in choices
        ]
    paths = sorted(set(variants))
    unexplained = [path for path in paths if re.search(r"[\\^$()|?*+\[\]]", path)]
    assert unexplained == [], f"extend _SAMPLES for {pattern!r}"
    assert all(re.search(pattern, path) for path in paths)
    return paths


def test_the_template_passes_cfn_lint() -> None:
    cfn_lint = require_tool("cfn-lint")
    result = subprocess.run([cfn_lint, str(TEMPLATE)], capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stdout + result.stderr


def test_each_function_folder_is_one_lambda_with_its_handler() -> None:
    functions = _functions()

    assert sorted(functions) == function_names()
    for name, properties in functions.items():
        assert properties["Handler"] == f"functions.{name}.app.handler"
        assert properties["CodeUri"] == f"../../.local/aws-bundles/{name}"


@pytest.mark.parametrize(
    ("pattern", "function"),
    [(pattern, route.name) for route in load_routes() for pattern in route.patterns],
)
def test_the_http_api_sends_each_router_path_to_the_same_function(pattern: str, function: str) -> None:
    routes = load_routes()
    for path in _sample_paths(pattern):
        chosen_by_router = route_for(path, routes)
        assert chosen_by_router is not None and chosen_by_router.name == function, path
        assert _api_gateway_match(path, _api_routes()) == function, path


def test_every_api_route_belongs_to_the_function_the_router_picks() -> None:
    routes = load_routes()
    for template, function in _api_routes():
        path = re.sub(r"\{[^/]+\}", "123", template)
        chosen = route_for(path, routes)
        assert chosen is not None and chosen.name == function, template


def _schedules() -> dict[str, dict[str, Any]]:
    """The reminders function's schedules by the event each sends: EventBridge's own (None) or its Input."""
    events = _functions()["reminders"]["Events"].values()
    return {event["Properties"].get("Input"): event["Properties"] for event in events if event["Type"] == "Schedule"}


def test_the_reminders_function_runs_the_pass_every_five_minutes_and_the_settler_and_outbox_every_minute() -> None:
    schedules = _schedules()
    inputs = {json.dumps(json.loads(key), sort_keys=True): value for key, value in schedules.items() if key}

    # The pass gets EventBridge's own event (its id is the run's correlation id); the settler's and the outbox's
    # rules send the events the handler knows them by.
    assert len(schedules) == 3
    assert schedules[None]["Schedule"] == "rate(5 minutes)"
    assert inputs[json.dumps(SETTLE_STORAGE_EVENT, sort_keys=True)]["Schedule"] == "rate(1 minute)"
    assert inputs[json.dumps(DELIVER_OUTBOX_EVENT, sort_keys=True)]["Schedule"] == "rate(1 minute)"
    assert is_scheduled_event(json.loads((EVENTS / "eventbridge-scheduled.json").read_text()))
    for event in (SETTLE_STORAGE_EVENT, DELIVER_OUTBOX_EVENT):
        assert not is_scheduled_event(event)
    assert is_storage_settlement_event(SETTLE_STORAGE_EVENT) and not is_outbox_delivery_event(SETTLE_STORAGE_EVENT)
    assert is_outbox_delivery_event(DELIVER_OUTBOX_EVENT) and not is_storage_settlement_event(DELIVER_OUTBOX_EVENT)


def _variables(function: str) -> dict[str, Any]:
    variables: dict[str, Any] = _functions()[function].get("Environment", {}).get("Variables", {})
    return variables


def test_only_the_reminders_function_which_delivers_the_outbox_gets_the_mail_settings() -> None:
    parameters = _template()["Parameters"]

    assert parameters["SmtpUrl"]["NoEcho"] is True
    assert {"SMTP_URL", "MAIL_FROM", "APP_BASE_URL"} <= set(_variables("reminders"))
    assert not any("SMTP_URL" in _variables(name) for name in function_names() if name != "reminders")
    assert "SMTP_URL" not in _template()["Globals"]["Function"]["Environment"]["Variables"]


def test_webhooks_may_never_aim_at_private_addresses_on_aws() -> None:
    """Checked at creation (notifications) and at each delivery (reminders): a user's webhook must not reach the
    VPC's database or Redis, or the instance metadata endpoint."""
    for function in ("notifications", "reminders"):
        assert _variables(function)["WEBHOOK_ALLOW_PRIVATE_TARGETS"] == "false", function
    assert "WEBHOOK_ALLOW_PRIVATE_TARGETS" not in _template()["Globals"]["Function"]["Environment"]["Variables"]


def test_only_attachments_and_tasks_may_write_the_bucket() -> None:
    writers = {
        name
        for name, properties in _functions().items()
        for policy in properties.get("Policies", [])
        if isinstance(policy, dict) and "S3CrudPolicy" in policy
    }

    assert writers == {"attachments", "tasks"}


def test_the_settler_may_only_tag_untag_and_delete_files() -> None:
    actions = {
        action
        for policy in _functions()["reminders"]["Policies"]
        if isinstance(policy, dict)
        for statement in policy.get("Statement", [])
        for action in statement["Action"]
    }

    assert actions == {"s3:DeleteObject", "s3:PutObjectTagging", "s3:DeleteObjectTagging", "s3:ListBucket"}


def _as_cloudformation(rule: dict[str, Any]) -> dict[str, Any]:
    """An S3 API lifecycle rule (what the adapter and the compose file set) in the template's spelling."""
    converted: dict[str, Any] = {"Id": rule["ID"], "Status": rule["Status"]}
    tag = rule["Filter"].get("Tag")
    if tag:
        converted["TagFilters"] = [tag]
    if rule["Filter"].get("Prefix"):
        converted["Prefix"] = rule["Filter"]["Prefix"]
    if "Expiration" in rule:
        converted["ExpirationInDays"] = rule["Expiration"]["Days"]
    if "AbortIncompleteMultipartUpload" in rule:
        converted["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    return converted


def test_the_bucket_expires_unrecorded_uploads_the_same_way_everywhere() -> None:
    bucket = _template()["Resources"]["AttachmentsBucket"]["Properties"]
    compose_lifecycle = json.loads((ROOT / "infra" / "s3" / "bucket-lifecycle.json").read_text())

    assert compose_lifecycle == BUCKET_LIFECYCLE
    assert bucket["LifecycleConfiguration"]["Rules"] == [_as_cloudformation(rule) for rule in BUCKET_LIFECYCLE["Rules"]]
    [pending_rule] = [rule for rule in bucket["LifecycleConfiguration"]["Rules"] if "TagFilters" in rule]
    assert (pending_rule["TagFilters"], pending_rule["ExpirationInDays"]) == (
        [{"Key": "upload", "Value": "pending"}],
        1,
    )


def test_the_attachments_function_may_tag_and_untag_objects() -> None:
    actions = {
        action
        for policy in _functions()["attachments"]["Policies"]
        if isinstance(policy, dict)
        for statement in policy.get("Statement", [])
        for action in statement["Action"]
    }

    assert {"s3:PutObjectTagging", "s3:DeleteObjectTagging"} <= actions


def test_the_jwt_secret_comes_from_secrets_manager() -> None:
    text = TEMPLATE.read_text()

    assert "{{resolve:secretsmanager:${JwtSecretId}:SecretString}}" in text
    assert {"DatabaseUrl", "RedisUrl", "JwtSecretId"} <= set(_template()["Parameters"])


def test_each_bundle_holds_its_function_and_only_its_extras_libraries(tmp_path: Path) -> None:
    staged = stage(tmp_path)

    assert staged == function_names()
    assert (tmp_path / "layer" / "tasktracker" / "config.py").is_file()
    for name in staged:
        assert (tmp_path / name / "functions" / name / "app.py").is_file()
        assert not (tmp_path / name / "functions" / name / "requirements.txt").exists()
    # The route table comes with the layer, as package data; no function carries infra/.
    assert (tmp_path / "layer" / "tasktracker" / "routes.toml").is_file()
    assert not any((tmp_path / name / "infra").exists() for name in staged)
    auth_libraries = (tmp_path / "auth" / "requirements.txt").read_text()
    assert "argon2-cffi" in auth_libraries
    assert "boto3" not in auth_libraries
    reminders_libraries = (tmp_path / "reminders" / "requirements.txt").read_text()
    assert "celery" in reminders_libraries
    # The storage settler runs in the reminders function.
    assert "boto3" in reminders_libraries
