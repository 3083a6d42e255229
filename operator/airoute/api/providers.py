"""The provider blocks of a backend: exactly one per backend says where its traffic goes."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from airoute.api.base import ApiModel

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
SECRET_KEY = r"^[-._a-zA-Z0-9]+$"
URL = r"^https?://[^\s/?#\x00-\x1f\x7f]+([/?#][^\s\x00-\x1f\x7f]*)?$"
HTTP_HEADER = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"

CONTROL_CHARACTERS = r"[\x00-\x08\x0a-\x1f\x7f]"
"""What no header value may hold: every control character but horizontal tab (RFC 9110 field values)."""
NO_CONTROL_CHARACTERS = (
    "must not contain control characters such as CR, LF or NUL: they would end the header and "
    "smuggle other headers or whole requests into the upstream connection"
)
_CONTROL = re.compile(CONTROL_CHARACTERS)


def _no_control_characters(text: str) -> str:
    if _CONTROL.search(text):
        raise ValueError(NO_CONTROL_CHARACTERS)
    return text


HeaderText = Annotated[str, AfterValidator(_no_control_characters)]
"""Text sent as an HTTP header value: refused with a message naming the field when it holds a
control character (issue 14.3); the CRD carries the same rule (:func:`header_text_schema`)."""


def header_text_schema() -> dict[str, Any]:
    """The CRD's CEL rule for a :data:`HeaderText` field."""
    return {"x-kubernetes-validations": [
        {"rule": f"!self.matches(r'{CONTROL_CHARACTERS}')", "message": NO_CONTROL_CHARACTERS},
    ]}

Cloud = Literal["azure", "aws", "gcp", "in-cluster", "external"]


class SecretKeyRef(ApiModel):
    """A reference to a Secret in the AIRoute's namespace (values are never copied anywhere)."""

    name: str = Field(
        min_length=1,
        max_length=253,
        pattern=DNS_SUBDOMAIN,
        description="Name of the Secret, in the same namespace as the AIRoute.",
    )
    key: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        pattern=SECRET_KEY,
        description=(
            "Key inside the Secret. When omitted, the provider's conventional key is used: "
            "`api-key` for Azure OpenAI and OpenAI-compatible APIs, `key.json` for Vertex AI, "
            "`token` for in-cluster services. For Bedrock the Secret holds "
            "`aws_access_key_id`, `aws_secret_access_key` and optionally `aws_session_token`."
        ),
    )


def _https_unless_insecure(field: str, url: str | None, insecure: bool) -> None:
    if url is not None and url.startswith("http://") and not insecure:
        raise ValueError(f"{field} must use https:// (set insecure: true to allow plain http)")


def _insecure_rule(field: str) -> dict[str, str]:
    return {
        "rule": f"!has(self.{field}) || self.{field}.startsWith('https://') || (has(self.insecure) && self.insecure)",
        "message": f"{field} must use https:// (set insecure: true to allow plain http)",
    }


class AzureOpenAI(ApiModel):
    """An Azure OpenAI deployment, called on Azure OpenAI's generally available v1 API (OpenAI's wire
    format, `POST {endpoint}/openai/v1/chat/completions` with the deployment as `model`)."""

    model_config = ApiModel.config_with_rules(_insecure_rule("endpoint"))

    endpoint: str = Field(
        max_length=2048,
        pattern=URL,
        description="Resource endpoint, e.g. https://contoso.openai.azure.com (no path).",
    )
    deployment: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Name of the model deployment in that Azure OpenAI resource.",
    )
    api_version: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$",
        description=(
            "Only for resources that ask for it: call the deployment's own path "
            "`{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=<this>` instead "
            "of the v1 API (`{endpoint}/openai/v1/chat/completions`, no api-version), the default."
        ),
    )
    region: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z0-9]+$",
        description="Azure region of the resource, e.g. westeurope; used by data-residency policies.",
    )
    credentials_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="Secret holding the API key. When omitted, Microsoft Entra ID (workload identity) is used.",
    )
    insecure: bool = Field(
        default=False,
        description="Allow a plain http:// endpoint (local emulators and tests only).",
    )

    @model_validator(mode="after")
    def _scheme(self) -> AzureOpenAI:
        _https_unless_insecure("endpoint", self.endpoint, self.insecure)
        return self

    @property
    def cloud(self) -> Cloud:
        return "azure"

    @property
    def location(self) -> str:
        return self.region

    @property
    def version_label(self) -> str:
        return self.deployment


class Bedrock(ApiModel):
    """A model on Amazon Bedrock, called on its Converse and ConverseStream APIs (SigV4-signed)."""

    model_config = ApiModel.config_with_rules(_insecure_rule("endpointURL"))

    region: str = Field(
        min_length=1,
        max_length=32,
        pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]+$",
        description="AWS region, e.g. eu-central-1.",
    )
    model_id: str = Field(
        min_length=1,
        max_length=256,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$",
        description="Bedrock model ID or inference-profile ID, e.g. anthropic.claude-3-5-sonnet-20240620-v1:0.",
    )
    endpoint_url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=URL,
        alias="endpointURL",
        description="Override of the Bedrock runtime endpoint (VPC interface endpoint, FIPS, emulator).",
    )
    credentials_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description=(
            "Secret with aws_access_key_id / aws_secret_access_key (/ aws_session_token). When omitted, "
            "the default AWS credential chain is used (IRSA, EKS Pod Identity, instance profile)."
        ),
    )
    insecure: bool = Field(default=False, description="Allow a plain http:// endpointURL (tests only).")

    @model_validator(mode="after")
    def _scheme(self) -> Bedrock:
        _https_unless_insecure("endpointURL", self.endpoint_url, self.insecure)
        return self

    @property
    def cloud(self) -> Cloud:
        return "aws"

    @property
    def location(self) -> str:
        return self.region

    @property
    def version_label(self) -> str:
        return self.model_id


class VertexAI(ApiModel):
    """A Gemini (or partner) model on Vertex AI, called through the Google Gen AI client."""

    model_config = ApiModel.config_with_rules(_insecure_rule("endpointURL"))

    project: str = Field(
        min_length=6,
        max_length=30,
        pattern=r"^[a-z][-a-z0-9]*[a-z0-9]$",
        description="Google Cloud project ID.",
    )
    location: str = Field(
        min_length=1,
        max_length=32,
        pattern=r"^[a-z]+(-[a-z]+[0-9]*)*$",
        description="Vertex AI location, e.g. europe-west4 (or global).",
    )
    model: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$",
        description="Publisher model name, e.g. gemini-1.5-pro-002.",
    )
    endpoint_url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=URL,
        alias="endpointURL",
        description="Override of the Vertex AI API endpoint (Private Service Connect, emulator).",
    )
    credentials_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description=(
            "Secret holding a service-account key JSON. When omitted, Application Default "
            "Credentials are used (GKE workload identity)."
        ),
    )
    insecure: bool = Field(default=False, description="Allow a plain http:// endpointURL (tests only).")

    @model_validator(mode="after")
    def _scheme(self) -> VertexAI:
        _https_unless_insecure("endpointURL", self.endpoint_url, self.insecure)
        return self

    @property
    def cloud(self) -> Cloud:
        return "gcp"

    @property
    def version_label(self) -> str:
        return self.model


class ServiceRef(ApiModel):
    """A Kubernetes Service that serves an OpenAI-compatible API."""

    name: str = Field(min_length=1, max_length=63, pattern=DNS_LABEL, description="Service name.")
    namespace: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        pattern=DNS_LABEL,
        description="Service namespace; defaults to the AIRoute's namespace.",
    )
    port: int = Field(default=80, ge=1, le=65535, description="Service port.")


class InCluster(ApiModel):
    """A model served inside the cluster (vLLM, KServe, Ollama, TGI) with an OpenAI-compatible API."""

    service: ServiceRef = Field(description="The Service in front of the model server.")
    model: str = Field(
        min_length=1,
        max_length=256,
        description="Model name the server expects, e.g. meta-llama/Llama-3.1-8B-Instruct.",
    )
    scheme: Literal["http", "https"] = Field(default="http", description="Scheme used to reach the Service.")
    path_prefix: str = Field(
        default="/v1",
        max_length=256,
        pattern=r"^(/[A-Za-z0-9._~-]+)*$",
        description="Path prefix of the OpenAI-compatible API on that server.",
    )
    region: str | None = Field(
        default=None,
        max_length=64,
        description="Region of the cluster, for data-residency policies.",
    )
    credentials_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="Optional Secret with a bearer token for the model server.",
    )

    @property
    def cloud(self) -> Cloud:
        return "in-cluster"

    @property
    def location(self) -> str:
        return self.region or "cluster"

    @property
    def version_label(self) -> str:
        return f"{self.service.name}/{self.model}"


class HeaderValue(ApiModel):
    """An extra HTTP header; a credential comes from a Secret, never inline."""

    name: str = Field(min_length=1, max_length=128, pattern=HTTP_HEADER, description="Header name.")
    value: HeaderText | None = Field(
        default=None,
        max_length=1024,
        description="Literal value (not for credentials); no control characters (CR, LF, NUL …).",
        json_schema_extra=header_text_schema(),
    )
    value_from: SecretKeyRef | None = Field(default=None, description="Take the value from a Secret key.")

    model_config = ApiModel.config_with_rules(
        {"rule": "has(self.value) != has(self.valueFrom)", "message": "exactly one of value or valueFrom must be set"}
    )

    @model_validator(mode="after")
    def _one_source(self) -> HeaderValue:
        if (self.value is None) == (self.value_from is None):
            raise ValueError("exactly one of value or valueFrom must be set")
        return self


class OpenAICompatible(ApiModel):
    """A vendor API that speaks OpenAI chat completions: OpenAI, xAI, Mistral, Azure AI Foundry …"""

    model_config = ApiModel.config_with_rules(_insecure_rule("baseURL"))

    base_url: str = Field(
        max_length=2048,
        pattern=URL,
        alias="baseURL",
        description="API base including the version path, e.g. https://api.openai.com/v1.",
    )
    model: str = Field(min_length=1, max_length=256, description="Model name sent upstream, e.g. gpt-4o.")
    credentials_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="Secret holding the bearer API key (key `api-key` by default).",
    )
    headers: list[HeaderValue] = Field(
        default_factory=list,
        max_length=16,
        description="Extra request headers.",
    )
    organization: HeaderText | None = Field(
        default=None, max_length=128, description="OpenAI-Organization header; no control characters.",
        json_schema_extra=header_text_schema(),
    )
    project: HeaderText | None = Field(
        default=None, max_length=128, description="OpenAI-Project header; no control characters.",
        json_schema_extra=header_text_schema(),
    )
    status_page: str | None = Field(
        default=None,
        max_length=2048,
        pattern=URL,
        description="Statuspage-style summary.json of this vendor, read as an extra health signal.",
    )
    ca_bundle: str | None = Field(
        default=None,
        max_length=65536,
        description="PEM CA bundle to trust instead of the system store (private gateways, tests).",
    )
    region: str | None = Field(default=None, max_length=64, description="Region of the vendor endpoint, if known.")
    insecure: bool = Field(default=False, description="Allow a plain http:// baseURL.")

    @model_validator(mode="after")
    def _scheme(self) -> OpenAICompatible:
        _https_unless_insecure("baseURL", self.base_url, self.insecure)
        return self

    @property
    def cloud(self) -> Cloud:
        return "external"

    @property
    def location(self) -> str:
        return self.region or "global"

    @property
    def version_label(self) -> str:
        return self.model


ProviderBlock = AzureOpenAI | Bedrock | VertexAI | InCluster | OpenAICompatible
PROVIDER_FIELDS: tuple[str, ...] = ("azureOpenAI", "bedrock", "vertexAI", "inCluster", "openAICompatible")
