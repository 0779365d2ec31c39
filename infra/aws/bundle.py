"""Stages what `sam build` packs: the layer's code as a Lambda layer, and one folder per function.

`python -m infra.aws.bundle` writes .local/aws-bundles/ (template.yaml's CodeUri and ContentUri point there):

    layer/tasktracker/         the shared layer's code (pure Python: its libraries go with each function)
    <function>/functions/...   the function's package, importable as functions.<function>.app
    <function>/requirements.txt the third-party libraries of the layer extras the function's requirements.txt
                                names, so each bundle carries only what that function needs, as its image does

The route table (tasktracker/routes.toml) is package data of the layer, so every function has it there.
"""

from __future__ import annotations

import argparse
import re
import shutil
import tomllib
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
BUNDLES = REPOSITORY / ".local" / "aws-bundles"
_LAYER_REQUIREMENT = re.compile(r"^(?:-e\s+)?\.\./\.\./layers\[(?P<extras>[a-z0-9_,\s-]+)\]$")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


def function_names() -> list[str]:
    return sorted(path.parent.name for path in (REPOSITORY / "functions").glob("*/app.py"))


def layer_extras(requirements_file: Path) -> list[str]:
    """The extras of the layer line in a function's requirements.txt (the only line those files hold)."""
    for line in requirements_file.read_text().splitlines():
        match = _LAYER_REQUIREMENT.match(line.strip())
        if match:
            return [extra.strip() for extra in match["extras"].split(",") if extra.strip()]
    raise ValueError(f"{requirements_file} names no ../../layers[...] requirement")


def third_party_requirements(extras: list[str]) -> list[str]:
    with (REPOSITORY / "layers" / "pyproject.toml").open("rb") as handle:
        optional = tomllib.load(handle)["project"]["optional-dependencies"]
    unknown = [extra for extra in extras if extra not in optional]
    if unknown:
        raise ValueError(f"the layer has no extras {unknown}")
    return sorted({requirement for extra in extras for requirement in optional[extra]})


def stage_function(name: str, destination: Path) -> None:
    shutil.copytree(REPOSITORY / "functions" / name, destination / "functions" / name, ignore=_IGNORED)
    shutil.copy2(REPOSITORY / "functions" / "__init__.py", destination / "functions" / "__init__.py")
    # The function's own requirements.txt names the layer by a path that does not exist inside a bundle.
    (destination / "functions" / name / "requirements.txt").unlink()
    requirements = third_party_requirements(layer_extras(REPOSITORY / "functions" / name / "requirements.txt"))
    (destination / "requirements.txt").write_text("\n".join(requirements) + "\n")


def stage(output: Path = BUNDLES) -> list[str]:
    shutil.rmtree(output, ignore_errors=True)
    shutil.copytree(REPOSITORY / "layers" / "tasktracker", output / "layer" / "tasktracker", ignore=_IGNORED)
    names = function_names()
    for name in names:
        stage_function(name, output / name)
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description="Stage the Lambda layer and function bundles for sam build")
    parser.add_argument("--output", type=Path, default=BUNDLES)
    args = parser.parse_args()
    names = stage(args.output)
    print(f"Staged the layer and {len(names)} functions ({', '.join(names)}) in {args.output}")


if __name__ == "__main__":
    main()
