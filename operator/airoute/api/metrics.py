"""The gateway's metrics as a contract: their names, labels and ``outcome`` values, and which
outcomes say what about a backend's health. The gateway writes them (``gateway/metrics.py``); the
controller reads them through PromQL (``signals/catalogue.py``) or straight from the gateways'
``/metrics`` (``signals/scrape.py``); alert rules and dashboards use the same names
(docs/gateway.md lists them). Every label value comes from a bounded set: namespaces, route and
backend names from AIRoutes, variants, provider kinds, tiers, outcomes — never a prompt, a user or
a key.
"""

from __future__ import annotations

from typing import Literal

# Per backend attempt, labelled BACKEND_LABELS (+ outcome).
REQUESTS_TOTAL = "airoute_requests_total"
REQUEST_DURATION = "airoute_request_duration_seconds"
# OpenTelemetry GenAI semantic conventions, in their Prometheus form (issue 16.6), labelled
# GEN_AI_LABELS: the backend's labels and the conventions' attributes.
TIME_TO_FIRST_TOKEN = "gen_ai_server_time_to_first_token_seconds"
TIME_PER_OUTPUT_TOKEN = "gen_ai_server_time_per_output_token_seconds"
GEN_AI_REQUEST_DURATION = "gen_ai_server_request_duration_seconds"
GEN_AI_TOKEN_USAGE = "gen_ai_client_token_usage"
TOKENS_TOTAL = "airoute_tokens_total"
RETRIES_TOTAL = "airoute_retries_total"
EJECTIONS_TOTAL = "airoute_ejections_total"
HOLD_OFFS_TOTAL = "airoute_hold_offs_total"
SPILLED_REQUESTS_TOTAL = "airoute_spilled_requests_total"
TOKEN_LIMITED_TOTAL = "airoute_token_limited_requests_total"
DEGRADED_RESPONSES_TOTAL = "airoute_degraded_responses_total"
SHED_REQUESTS_TOTAL = "airoute_shed_requests_total"
NARROWED_REQUESTS_TOTAL = "airoute_narrowed_requests_total"
# The gateway itself.
ROUTE_TABLE_VERSION = "airoute_gateway_route_table_version"
ROUTE_TABLE_LOAD_FAILURES_TOTAL = "airoute_gateway_route_table_load_failures_total"
ROUTES = "airoute_gateway_routes"
ROUTE_CHANGE_CPU = "airoute_gateway_route_change_cpu_seconds"
GC_PAUSE = "airoute_gateway_gc_pause_seconds"
"""CPU seconds the event loop spent on one slice of route changes (a few routes built and bound):
the longest a request waits for the table to change under it."""
IN_FLIGHT_REQUESTS = "airoute_gateway_in_flight_requests"
READY = "airoute_gateway_ready"
BACKEND_OUT = "airoute_gateway_backend_out"
"""1 per backend a gateway keeps out of its choice right now, labelled namespace, route, backend,
state: ``ejected`` (consecutive failures, for ``failover.ejectFor``) or ``held_off`` (a 429 hold-off).
The controller treats ``ejected`` as Unhealthy; the failed attempts the gateway retried elsewhere
are ``airoute_retries_total``."""
BACKEND_OUT_STATES = ("ejected", "held_off")
ROUTE_UNSERVABLE = "airoute_gateway_route_unservable"
"""1 per route this gateway leaves out of its table, labelled namespace, route, backend, reason."""
UNSERVABLE_REASONS = ("SecretNotFound", "InvalidProviderConfig", "ClientBuildFailed")
"""Why a gateway cannot serve a route: a Secret the backend references is missing (or not
labelled for airoute, or in another namespace); the provider block cannot be used as written; its
client could not be built. The gateway's log has the full message."""
OVERLOAD = "airoute_gateway_overload"
EVENT_LOOP_LAG = "airoute_gateway_event_loop_lag_seconds"

BACKEND_LABELS = ("namespace", "route", "backend", "variant", "provider")
GEN_AI_LABELS = (*BACKEND_LABELS, "gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model",
                 "gen_ai_response_model")
"""``gen_ai_request_model`` is the model the client asked for (the route's ``spec.model``);
``gen_ai_response_model`` the model the backend variant is configured with (never read from an
answer: a hostile endpoint must not choose label values)."""
GEN_AI_PROVIDER_NAMES = {
    "azureOpenAI": "azure.ai.openai",
    "bedrock": "aws.bedrock",
    "vertexAI": "gcp.vertex_ai",
    "openAICompatible": "openai",
    "inCluster": "in_cluster",
}
"""``gen_ai.provider.name`` by provider kind (the conventions' well-known values; ``in_cluster``
for a model served in the cluster, which they do not name)."""
"""Labels of one backend attempt. Rows with ``backend=""`` are outcomes the gateway decided itself
(shed, degraded, unknown model …): they say nothing about any backend's health."""

Outcome = Literal["success", "error", "throttled", "timeout", "bad_request", "auth_failed", "degraded", "shed"]
OUTCOMES: tuple[Outcome, ...] = (
    "success", "error", "throttled", "timeout", "bad_request", "auth_failed", "degraded", "shed",
)
ERROR_OUTCOMES: tuple[Outcome, ...] = ("error", "timeout", "auth_failed")
"""A backend failed the request."""
THROTTLED_OUTCOMES: tuple[Outcome, ...] = ("throttled",)
"""A backend rate-limited the request: counted apart from errors."""
NOT_BACKEND_OUTCOMES: tuple[Outcome, ...] = ("degraded", "shed", "bad_request")
"""Outcomes that say nothing about a backend's health (the gateway never reached it, or the
client's request was wrong)."""
CLIENT_ERROR_OUTCOMES: tuple[Outcome, ...] = ("error", "timeout", "degraded")
"""Outcomes the gateway decided itself (``backend=""``) that the client saw as a failure."""
