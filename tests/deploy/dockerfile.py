"""Just enough of a Dockerfile reader for the tests: instructions of each stage, exec forms."""

import json
import re
from dataclasses import dataclass
from pathlib import Path

from tests.deploy import ROOT


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, CMD, ...
    value: str  # the rest of the logical line, continuations joined


def instructions(path=ROOT / "Dockerfile"):
    logical, parts = [], []
    for line in Path(path).read_text().splitlines():
        if not parts and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if parts and line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if line.rstrip().endswith("\\"):
            parts.append(line.rstrip()[:-1].strip())
            continue
        parts.append(line.strip())
        logical.append(" ".join(part for part in parts if part))
        parts = []
    result = []
    for line in logical:
        keyword, _, value = line.partition(" ")
        result.append(Instruction(keyword.upper(), value.strip()))
    return result


def final_stage(path=ROOT / "Dockerfile"):
    """The instructions after the last FROM: what the image runs with."""
    found = instructions(path)
    last_from = max(i for i, instruction in enumerate(found) if instruction.keyword == "FROM")
    return found[last_from:]


def one(stage, keyword):
    matches = [instruction for instruction in stage if instruction.keyword == keyword]
    assert len(matches) == 1, f"expected one {keyword}, found {len(matches)}"
    return matches[0].value


def exec_form(value):
    """CMD/ENTRYPOINT ["a", "b"] -> ["a", "b"]; the shell form is refused (no PID 1 signals)."""
    parsed = json.loads(value)
    assert isinstance(parsed, list) and all(isinstance(arg, str) for arg in parsed), value
    return parsed


def healthcheck_command(stage):
    """HEALTHCHECK [--options] CMD [...] -> the exec-form command."""
    value = one(stage, "HEALTHCHECK")
    match = re.search(r"\bCMD\s+(\[.*\])\s*$", value)
    assert match, f"HEALTHCHECK is not an exec-form CMD: {value}"
    return exec_form(match.group(1))


def env(stage):
    """ENV KEY=VALUE ... pairs of the stage (values unquoted, $VAR left as written)."""
    values = {}
    for instruction in stage:
        if instruction.keyword == "ENV":
            for pair in instruction.value.split():
                key, _, value = pair.partition("=")
                values[key] = value.strip('"')
    return values


def entry_and_command(stage):
    """The exec-form ENTRYPOINT and CMD: together, what the container runs."""
    return exec_form(one(stage, "ENTRYPOINT")), exec_form(one(stage, "CMD"))
