"""The built Lambda artifacts under the AWS Lambda Runtime Interface Emulator, as the Lambda runtime runs them.

`sam build` (with `python -m infra.aws.bundle` first) writes one folder per function and one for the layer;
this module runs a function's folder the way Lambda does: the emulator (shipped in the aws-sam-cli wheel)
starts `python -m awslambdaric <handler>` with the function's folder as the working directory and
PYTHONPATH = the folder, the layer's python/ and a folder holding awslambdaric (Lambda's /var/runtime).
One emulator process is one execution environment: a fresh process is a cold start.

Used by `make lambda-test` (tests/lambda) and `make bench` (bench/lambda_coldstart.py).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from urllib.request import Request, urlopen

import yaml

from local.services import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "infra" / "aws" / "template.yaml"
BUILD_DIR = ROOT / ".local" / "aws-sam" / "build"
RUNTIME_DIR = ROOT / ".local" / "lambda-runtime"
SAM_VENV = ROOT / ".local" / "venv-sam"
INVOCATIONS_PATH = "/2015-03-31/functions/function/invocations"
STARTUP_SECONDS = 15.0

# The emulator's own INIT REPORT line (its REPORT line's "Init Duration" is a fixed placeholder, about 0.1 ms).
_INIT_DURATION = re.compile(r"INIT REPORT\(durationMs: ?(?P<ms>[0-9.]+)")
_REPORT_DURATION = re.compile(r"REPORT RequestId: \S+\s+(?:Init Duration: [0-9.]+ ms\s+)?Duration: (?P<ms>[0-9.]+) ms")
_TEMPLATE_RUNTIME = re.compile(r"^\s+Runtime:\s*python(?P<version>3\.\d+)\s*$", re.MULTILINE)


class EmulatorError(RuntimeError):
    pass


class _CloudFormationLoader(yaml.SafeLoader):  # type: ignore[misc]
    """Reads !Ref as {"Ref": name}, so a parameter's default can stand in for it, and !Sub and the other short-form
    intrinsics as None."""


_CloudFormationLoader.add_constructor("!Ref", lambda loader, node: {"Ref": loader.construct_scalar(node)})
_CloudFormationLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    template: dict[str, Any] = yaml.load(path.read_text(), Loader=_CloudFormationLoader)  # noqa: S506 - safe loader
    return template


def template_variables(function: str, template: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The environment the template gives `function` (auth, tasks, ...): the Globals' variables, then its own."""
    template = template or load_template()
    variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    for resource in template["Resources"].values():
        properties = resource["Properties"]
        if resource["Type"] == "AWS::Serverless::Function" and properties["Handler"].split(".")[1] == function:
            variables.update(properties.get("Environment", {}).get("Variables", {}))
    return variables


# What local services need on top of the template's variables: the S3 endpoint and credentials of moto, and
# the rate limits of a test or bench run (the template leaves those at their defaults).
LOCAL_ONLY_VARIABLES = (
    "S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "RATE_LIMIT_DEFAULT",
    "RATE_LIMIT_LOGIN",
    "ACCESS_TOKEN_TTL_SECONDS",
    "MAX_UPLOAD_BYTES",
)
# On AWS ops finds its peers by function name (FUNCTION_NAMES); locally by their emulators' Invoke API.
AWS_ONLY_VARIABLES = ("FUNCTION_NAMES",)


def _deployed_value(function: str, name: str, value: Any, template: Mapping[str, Any]) -> str:
    """What a variable is on AWS when nothing local replaces it: a literal, or the default of the parameter it
    refers to."""
    if isinstance(value, dict) and "Ref" in value:
        parameter = template.get("Parameters", {}).get(value["Ref"], {})
        if "Default" in parameter:
            return str(parameter["Default"])
    if value is None or isinstance(value, dict):
        raise EmulatorError(f"{function}: the template computes {name} on AWS; give it a local value")
    return str(value)


def lambda_environment(function: str, values: Mapping[str, str], **extra: str) -> dict[str, str]:
    """The template's variables for `function` with local values (else as deployed with the parameters'
    defaults), and nothing else of this process's environment (a Lambda environment has only what its
    configuration gives it)."""
    template = load_template()
    env = {}
    for name, value in template_variables(function, template).items():
        if name not in AWS_ONLY_VARIABLES:
            env[name] = values[name] if name in values else _deployed_value(function, name, value, template)
    env.update({name: values[name] for name in LOCAL_ONLY_VARIABLES if name in values})
    env.update(extra)
    return env


def template_python_version(template: Path = TEMPLATE) -> str:
    """The template's Lambda runtime as a Python version, such as "3.13"."""
    versions: set[str] = set(_TEMPLATE_RUNTIME.findall(template.read_text()))
    if len(versions) != 1:
        raise EmulatorError(f"{template} names {sorted(versions) or 'no'} python runtimes; expected exactly one")
    return versions.pop()


def emulator_binary() -> Path:
    """The Runtime Interface Emulator inside the aws-sam-cli wheel of the SAM virtualenv (`make lambda-test`)."""
    found = sorted(SAM_VENV.glob("lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-x86_64"))
    if not found:
        raise EmulatorError(f"no aws-lambda-rie in {SAM_VENV}: `make lambda-build` installs aws-sam-cli there")
    return found[0]


def lambda_python() -> str:
    """The interpreter the functions run on: LAMBDA_PYTHON, else the one under this process's virtualenv.

    The base interpreter, not a virtualenv's: a function sees only its folder, the layer and awslambdaric."""
    base: str = getattr(sys, "_base_executable", None) or sys.executable
    return os.environ.get("LAMBDA_PYTHON") or base


def function_folders(build_dir: Path = BUILD_DIR) -> dict[str, Path]:
    """Each built function's folder by its functions/ name (TasksFunction holds functions/tasks)."""
    folders = {}
    for folder in sorted(build_dir.glob("*Function")):
        names = [path.name for path in (folder / "functions").iterdir() if (path / "app.py").exists()]
        if len(names) == 1:
            folders[names[0]] = folder
    return folders


@dataclass(frozen=True)
class Invocation:
    """One answer of the function and how long the emulator took to give it."""

    result: Any
    seconds: float


@dataclass
class Emulator:
    """One execution environment of one function (a process of the emulator)."""

    name: str
    handler: str
    code: Path
    layers: tuple[Path, ...]
    env: Mapping[str, str]
    log_file: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def invoke_url(self) -> str:
        """The Lambda Invoke API of this environment (what a FUNCTION_INVOKE_URLS entry names)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Emulator:
        runtime_api_port = free_port()
        command = [
            str(emulator_binary()),
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{self.port}",
            "--runtime-api-address",
            f"127.0.0.1:{runtime_api_port}",
            # The emulator reads LOG_LEVEL too, which is the function's setting (WARNING in the tests and the bench):
            # at info it writes the INIT REPORT that init_milliseconds reads.
            "--log-level",
            "info",
            lambda_python(),
            "-m",
            "awslambdaric",
            self.handler,
        ]
        env = {
            **self.env,
            "PYTHONPATH": os.pathsep.join(str(path) for path in (self.code, *self.layers, RUNTIME_DIR)),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_LAMBDA_FUNCTION_NAME": self.name,
            # Lambda's /var/task and /opt are read-only: a cold start gets only the bytecode the build shipped.
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=self.code, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port("127.0.0.1", self.port, timeout=STARTUP_SECONDS)
        except TimeoutError as error:
            self.stop()
            raise EmulatorError(f"the emulator of {self.name} did not listen:\n{self.logs()[-3000:]}") from error
        return self

    def invoke(self, event: Mapping[str, Any], timeout: float = 60.0) -> Invocation:
        url = f"{self.invoke_url}{INVOCATIONS_PATH}"
        request = Request(url, data=json.dumps(event).encode(), method="POST")  # noqa: S310 - loopback, our own
        started = time.perf_counter()
        with urlopen(request, timeout=timeout) as response:  # noqa: S310 - a loopback URL of our own
            raw = response.read()
        seconds = time.perf_counter() - started
        try:
            return Invocation(json.loads(raw), seconds)
        except ValueError as error:
            raise EmulatorError(f"{self.name} answered {raw[:500]!r}:\n{self.logs()[-3000:]}") from error

    def logs(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def init_milliseconds(self) -> float | None:
        """The INIT duration the emulator reported for this environment, once it has been invoked."""
        match = _INIT_DURATION.search(self.logs())
        return float(match["ms"]) if match else None

    def report_milliseconds(self) -> list[float]:
        """The Duration of each REPORT line, one per invoke."""
        return [float(match["ms"]) for match in _REPORT_DURATION.finditer(self.logs())]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def function_emulator(
    name: str, env: Mapping[str, str], log_directory: Path, build_dir: Path = BUILD_DIR, port: int | None = None
) -> Emulator:
    """An emulator (not started) for the built function `name` (auth, tasks, ...), with the built layer."""
    folders = function_folders(build_dir)
    if name not in folders:
        raise EmulatorError(f"no built function {name} in {build_dir} (built: {sorted(folders)})")
    return Emulator(
        name=name,
        handler=f"functions.{name}.app.handler",
        code=folders[name],
        layers=(build_dir / "SharedLayer" / "python",),
        env=env,
        log_file=log_directory / f"lambda-{name}-{uuid.uuid4().hex[:8]}.log",
        port=port or free_port(),
    )


BARE_FUNCTION = '''"""A bare Flask + apig-wsgi function: the floor a function's cold start is compared with."""
from apig_wsgi import make_lambda_handler
from flask import Flask

app = Flask(__name__)


@app.get("/health/live")
def live():
    return {"status": "ok"}


handler = make_lambda_handler(app, binary_support=True)
'''


def bare_emulator(folder: Path, log_directory: Path, build_dir: Path = BUILD_DIR) -> Emulator:
    """The bare function, with Flask and apig-wsgi taken from a built function's folder (the same versions)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bare_function.py").write_text(BARE_FUNCTION)
    libraries = function_folders(build_dir)["audit"]
    return Emulator(
        name="bare",
        handler="bare_function.handler",
        code=folder,
        layers=(libraries,),
        env={},
        log_file=log_directory / f"lambda-bare-{uuid.uuid4().hex[:8]}.log",
    )


def http_event(
    method: str,
    path: str,
    *,
    query: str = "",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    route_key: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    source_ip: str = "198.51.100.7",
) -> dict[str, Any]:
    """An API Gateway HTTP API event (payload format 2.0), as the gateway sends it to a function."""
    lowered: dict[str, str] = {"host": "api.example.com", "x-forwarded-proto": "https", "x-forwarded-port": "443"}
    cookies: list[str] = []
    for key, value in (headers or {}).items():
        if key.lower() == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
        else:
            lowered[key.lower()] = value
    lowered["x-forwarded-for"] = source_ip
    parameters: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        parameters[key] = f"{parameters[key]},{value}" if key in parameters else value
    text_body = _is_text(lowered.get("content-type", ""))
    encoded = body is not None and not text_body
    route_key = route_key or "$default"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "cookies": cookies,
        "headers": lowered,
        "queryStringParameters": parameters or None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "emulated",
            "domainName": lowered["host"],
            "domainPrefix": lowered["host"].split(".")[0],
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "timeEpoch": int(time.time() * 1000),
        },
        "body": None if body is None else (base64.b64encode(body).decode() if encoded else body.decode()),
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "isBase64Encoded": encoded,
        "stageVariables": None,
    }
    return event


def _is_text(content_type: str) -> bool:
    """API Gateway passes JSON and text bodies as they are and base64-encodes everything else."""
    media = content_type.split(";")[0].strip().lower()
    return media.startswith("text/") or media in ("application/json", "application/x-www-form-urlencoded")


def response_body(result: Mapping[str, Any]) -> bytes:
    """The bytes of a function's API Gateway v2 answer."""
    raw = result.get("body") or ""
    return base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
