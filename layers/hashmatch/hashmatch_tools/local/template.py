"""Reading template.yaml the way CloudFormation would, for the resources the local stack emulates.

Supports what the template uses: CloudFormation's short tags, `Fn::ForEach` (language
extensions), `Ref`, `Fn::Sub`, `Fn::GetAtt`, `Fn::Join`, `Fn::Select`, `Fn::Split`, `Fn::If`
and simple conditions, with physical names chosen as CloudFormation would for a named stack.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


class TemplateError(ValueError):
    """The template uses something the local stack cannot read; the message says what."""


class _CfnLoader(yaml.SafeLoader):
    pass


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else ("Condition" if suffix == "Condition" else f"Fn::{suffix}")
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    """The template as plain data, short tags turned into their long `Fn::` forms."""
    with path.open() as stream:
        document = yaml.load(stream, Loader=_CfnLoader)  # a SafeLoader subclass
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path} is not a CloudFormation template")
    return document


def _replace_identifier(node: Any, name: str, value: str) -> Any:
    if isinstance(node, dict):
        if node == {"Ref": name}:
            return value
        return {_replace_text(k, name, value): _replace_identifier(v, name, value) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_identifier(v, name, value) for v in node]
    if isinstance(node, str):
        return _replace_text(node, name, value)
    return node


def _replace_text(text: str, name: str, value: str) -> str:
    alphanumeric = re.sub(r"[^A-Za-z0-9]", "", value)
    return text.replace(f"${{{name}}}", value).replace(f"&{{{name}}}", alphanumeric)


@dataclass
class Stack:
    """The template resolved for one stack: parameters, resources, outputs."""

    name: str
    template: dict[str, Any]
    parameters: dict[str, Any]
    region: str = REGION
    account_id: str = ACCOUNT_ID
    endpoint: str = "https://sqs.us-east-1.amazonaws.com"
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    physical: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def from_file(
        cls, path: Path, name: str, endpoint: str | None = None, overrides: dict[str, str] | None = None
    ) -> Stack:
        template = load_template(path)
        parameters: dict[str, Any] = {}
        for key, spec in template.get("Parameters", {}).items():
            raw = (overrides or {}).get(key, spec.get("Default"))
            if raw is None:
                raise TemplateError(f"parameter {key} has no default and no value was given")
            if spec.get("Type") == "CommaDelimitedList":
                parameters[key] = [p.strip() for p in str(raw).split(",") if p.strip()]
            else:
                parameters[key] = str(raw)
        stack = cls(name=name, template=template, parameters=parameters)
        if endpoint:
            stack.endpoint = endpoint.rstrip("/")
        stack.resources = stack._expand(template["Resources"])
        return stack

    def _expand(self, section: dict[str, Any]) -> dict[str, Any]:
        expanded: dict[str, Any] = {}
        for key, value in section.items():
            if not key.startswith("Fn::ForEach::"):
                expanded[key] = value
                continue
            identifier, collection, fragment = value
            for element in self.resolve(collection):
                instance = _replace_identifier(copy.deepcopy(fragment), identifier, element)
                expanded.update(self._expand(instance))
        return expanded

    def pseudo(self, name: str) -> str | None:
        return {
            "AWS::StackName": self.name,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }.get(name, "")

    def condition(self, name: str) -> bool:
        spec = self.template.get("Conditions", {}).get(name)
        if spec is None:
            raise TemplateError(f"unknown condition {name}")
        return bool(self._condition_value(spec))

    def _condition_value(self, node: Any) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            ((key, value),) = node.items()
            if key == "Fn::Equals":
                left, right = (self.resolve(v) for v in value)
                return bool(left == right)
            if key == "Fn::Not":
                return not self._condition_value(value[0])
            if key == "Fn::And":
                return all(self._condition_value(v) for v in value)
            if key == "Fn::Or":
                return any(self._condition_value(v) for v in value)
            if key == "Condition":
                return self.condition(value)
        raise TemplateError(f"cannot evaluate condition {node!r}")

    def resolve(self, node: Any) -> Any:
        """`node` with every intrinsic function it uses evaluated for this stack."""
        if isinstance(node, list):
            # `Fn::If` to `AWS::NoValue` leaves no item in a list, as in CloudFormation.
            return [resolved for resolved in (self.resolve(v) for v in node) if resolved is not None]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self._ref(value)
            if key == "Fn::GetAtt":
                logical, attribute = value if isinstance(value, list) else str(value).split(".", 1)
                return self._attribute(str(self.resolve(logical)), str(self.resolve(attribute)))
            if key == "Fn::Sub":
                return self._sub(value)
            if key == "Fn::Join":
                delimiter, parts = value
                return delimiter.join(str(p) for p in self.resolve(parts))
            if key == "Fn::Select":
                index, items = value
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                delimiter, text = value
                return str(self.resolve(text)).split(delimiter)
            if key == "Fn::If":
                name, when_true, when_false = value
                return self.resolve(when_true if self.condition(name) else when_false)
            if key.startswith("Fn::") and key not in ("Fn::ForEach",):
                raise TemplateError(f"{key} is not supported by the local stack")
        return {k: self.resolve(v) for k, v in node.items()}

    def _ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        if name.startswith("AWS::"):
            return self.pseudo(name)
        return self._attribute(name, "Ref")

    def _sub(self, value: Any) -> str:
        text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name:
                logical, attribute = name.split(".", 1)
                return str(self._attribute(logical, attribute))
            resolved = self._ref(name)
            return ",".join(resolved) if isinstance(resolved, list) else str(resolved)

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def _attribute(self, logical: str, attribute: str) -> Any:
        if logical not in self.resources:
            raise TemplateError(f"unknown resource {logical}")
        names = self.physical_names(logical)
        key = {"Ref": "ref"}.get(attribute, attribute)
        if key not in names:
            raise TemplateError(f"{logical}.{attribute} is not available in the local stack")
        return names[key]

    def physical_names(self, logical: str) -> dict[str, str]:
        """Ref and GetAtt values of a resource, as CloudFormation would assign them."""
        if logical in self.physical:
            return self.physical[logical]
        resource = self.resources[logical]
        kind = resource["Type"]
        properties = resource.get("Properties", {})
        region, account = self.region, self.account_id
        default = f"{self.name}-{logical}"
        if kind == "AWS::S3::Bucket":
            name = str(self.resolve(properties.get("BucketName", default.lower())))
            names = {"ref": name, "Arn": f"arn:aws:s3:::{name}"}
        elif kind == "AWS::SQS::Queue":
            name = str(self.resolve(properties.get("QueueName", default)))
            arn = f"arn:aws:sqs:{region}:{account}:{name}"
            names = {"ref": f"{self.endpoint}/{account}/{name}", "Arn": arn, "QueueName": name}
        elif kind == "AWS::DynamoDB::Table":
            name = str(self.resolve(properties.get("TableName", default)))
            names = {"ref": name, "Arn": f"arn:aws:dynamodb:{region}:{account}:table/{name}"}
        elif kind == "AWS::SNS::Topic":
            name = str(self.resolve(properties.get("TopicName", default)))
            arn = f"arn:aws:sns:{region}:{account}:{name}"
            names = {"ref": arn, "TopicArn": arn, "TopicName": name}
        elif kind == "AWS::IAM::ManagedPolicy":
            arn = f"arn:aws:iam::{account}:policy/{default}"
            names = {"ref": arn, "PolicyArn": arn}
        elif kind == "AWS::IAM::Role":
            name = str(self.resolve(properties.get("RoleName", default)))
            path = str(self.resolve(properties.get("Path", "/")))
            names = {"ref": name, "Arn": f"arn:aws:iam::{account}:role{path}{name}", "RoleId": f"AROA{logical.upper()}"}
        else:
            names = {"ref": default, "Arn": f"arn:aws:local:{region}:{account}:{logical}"}
        self.physical[logical] = names
        return names

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: spec for name, spec in self.resources.items() if spec["Type"] == kind}

    def outputs(self) -> dict[str, Any]:
        """The template's outputs; those naming resources the local stack does not emulate, or whose
        condition is false, are left out."""
        resolved = {}
        for name, spec in self._expand(self.template.get("Outputs", {})).items():
            if "Condition" in spec and not self.condition(spec["Condition"]):
                continue
            try:
                resolved[name] = self.resolve(spec["Value"])
            except TemplateError:
                continue
        return resolved

    def function_environment(self, logical: str) -> dict[str, str]:
        globals_env = self.template.get("Globals", {}).get("Function", {}).get("Environment", {})
        own_env = self.resources[logical].get("Properties", {}).get("Environment", {})
        variables = {**globals_env.get("Variables", {}), **own_env.get("Variables", {})}
        return {k: str(v) for k, v in self.resolve(variables).items() if v is not None}
