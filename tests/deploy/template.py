"""deploy/sessiondemo.yaml, read as CloudFormation reads it (short-form tags expanded)."""

from cfnlint.decode import decode

from tests.deploy import TEMPLATE


def load():
    template, problems = decode(str(TEMPLATE))
    assert not problems, problems
    return template


def properties(template, name):
    return template["Resources"][name]["Properties"]


def container(template):
    (definition,) = properties(template, "TaskDefinition")["ContainerDefinitions"]
    return definition


def container_env(template):
    definition = container(template)
    values = {item["Name"]: item["Value"] for item in definition["Environment"]}
    secrets = {item["Name"]: item["ValueFrom"] for item in definition["Secrets"]}
    return values, secrets
