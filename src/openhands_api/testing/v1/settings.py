"""V1 settings, user and web-client bodies of the fake server (``openhands-ai`` 1.11.0).

Responsible for: the shapes of ``GET /api/v1/users/me``, ``GET /api/v1/settings`` and
``GET /api/v1/web-client/config`` (keys and order as observed on 1.11.0; secrets masked in
``users/me``, nulled with ``*_set`` flags in ``settings``), and how ``POST /api/v1/settings``
merges ``agent_settings_diff.llm`` into the stored settings the V0 routes share (``llm_model``,
``llm_base_url``, ``llm_api_key``).

Not responsible for: storing settings (``FakeState``) or HTTP. Fields the fake does not
model keep the values a fresh 1.11.0 server shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MASKED = "**********"

_TOP_LEVEL_DEFAULTS: dict[str, Any] = {
    "language": None,
    "user_version": None,
    "remote_runtime_resource_factor": None,
    "secrets_store": {"provider_tokens": {}},
    "enable_sound_notifications": False,
    "enable_proactive_conversation_starters": True,
    "user_consents_to_analytics": None,
    "sandbox_base_container_image": None,
    "sandbox_runtime_container_image": None,
    "disabled_skills": None,
    "search_api_key": None,
    "sandbox_api_key": None,
    "max_budget_per_task": None,
    "email": None,
    "email_verified": None,
    "git_user_name": None,
    "git_user_email": None,
    "git_full_clone": False,
    "v1_enabled": True,
}
"""Top-level settings before ``agent_settings``, in the order 1.11.0 sends them."""

_SIMPLE_KEYS = tuple(
    k for k in _TOP_LEVEL_DEFAULTS if k not in ("secrets_store", "search_api_key", "sandbox_api_key")
)
"""Top-level keys a ``POST /api/v1/settings`` may set directly."""


def _llm(model: str | None, base_url: str | None, api_key: str | None) -> dict[str, Any]:
    return {
        "model": model,
        "api_key": api_key,
        "auth_type": "api_key",
        "subscription_vendor": None,
        "base_url": base_url,
        "api_version": None,
        "openrouter_site_url": "https://docs.all-hands.dev/",
        "openrouter_app_name": "OpenHands",
        "num_retries": 0,
        "retry_multiplier": 8.0,
        "retry_min_wait": 8,
        "retry_max_wait": 64,
        "timeout": 300,
        "max_message_chars": 30000,
        "temperature": None,
        "top_p": None,
        "max_input_tokens": None,
        "max_output_tokens": None,
        "stream": False,
        "drop_params": True,
        "modify_params": True,
        "caching_prompt": True,
        "native_tool_calling": True,
        "reasoning_effort": "high",
        "usage_id": "default",
        "is_subscription": False,
    }


def _agent_settings(stored: Mapping[str, Any], api_key: str | None) -> dict[str, Any]:
    return {
        "schema_version": 4,
        "agent_kind": "openhands",
        "agent": stored.get("agent") or "CodeActAgent",
        "llm": _llm(stored.get("llm_model") or "gpt-5.5", stored.get("llm_base_url"), api_key),
        "tools": None,
        "enable_sub_agents": False,
        "enable_switch_llm_tool": True,
        "tool_concurrency_limit": 1,
        "mcp_config": {},
        "agent_context": {
            "skills": [],
            "system_message_suffix": None,
            "user_message_suffix": None,
            "load_user_skills": False,
            "load_public_skills": False,
            "disabled_skills": [],
            "secrets": None,
        },
        "condenser": {"enabled": True, "max_size": 240, "condenser_kind": "llm_summarizing"},
        "verification": {"critic_enabled": False},
    }


def _body(stored: Mapping[str, Any], api_key: str | None) -> dict[str, Any]:
    body = {key: stored.get(key, default) for key, default in _TOP_LEVEL_DEFAULTS.items()}
    body["secrets_store"] = {"provider_tokens": {}}
    body["search_api_key"] = None
    body["sandbox_api_key"] = None
    body["agent_settings"] = _agent_settings(stored, api_key)
    body.update(
        {
            "conversation_settings": {
                "schema_version": 1,
                "max_iterations": 500,
                "confirmation_mode": False,
                "security_analyzer": "llm",
            },
            "sandbox_grouping_strategy": "NO_GROUPING",
            "default_sandbox_spec_id": None,
            "llm_profiles": {"profiles": {}, "active": None},
            "active_agent_profile_id": None,
            "active_agent_profile_revision": None,
            "registered_marketplaces": [],
            "inherited_marketplaces": [],
        }
    )
    return body


def user_info(stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """``GET /api/v1/users/me``: the settings with secrets masked, and the user ``id`` (null
    for the anonymous self-hosted user). Without stored settings: the defaults (not observed)."""
    stored = stored or {}
    body = _body(stored, MASKED if stored.get("llm_api_key") else None)
    body["id"] = None
    return body


def settings_view(stored: Mapping[str, Any]) -> dict[str, Any]:
    """``GET /api/v1/settings``: secrets nulled, ``*_set`` flags at the end."""
    body = _body(stored, None)
    body["provider_tokens_set"] = {}
    body["llm_api_key_set"] = bool(stored.get("llm_api_key"))
    body["search_api_key_set"] = bool(stored.get("search_api_key"))
    return body


def merge_settings(current: Mapping[str, Any] | None, payload: Mapping[str, Any]) -> dict[str, Any]:
    """What ``POST /api/v1/settings`` stores: ``agent_settings_diff.llm`` deep-merged, simple
    top-level keys replaced, the rest of ``current`` kept."""
    merged = dict(current or {})
    diff = payload.get("agent_settings_diff")
    llm = diff.get("llm") if isinstance(diff, Mapping) else None
    if isinstance(llm, Mapping):
        for source, target in (
            ("model", "llm_model"),
            ("base_url", "llm_base_url"),
            ("api_key", "llm_api_key"),
        ):
            if source in llm:
                merged[target] = llm[source]
    if isinstance(diff, Mapping) and isinstance(diff.get("agent"), str):
        merged["agent"] = diff["agent"]
    for key in _SIMPLE_KEYS:
        if key in payload:
            merged[key] = payload[key]
    return merged


def web_client_config(app_mode: str) -> dict[str, Any]:
    """``GET /api/v1/web-client/config`` (open without authentication)."""
    return {
        "app_mode": app_mode,
        "posthog_client_key": "phc_fake",
        "feature_flags": {
            "enable_billing": app_mode == "saas",
            "hide_llm_settings": False,
            "enable_jira": False,
            "enable_jira_dc": False,
            "enable_linear": False,
            "hide_users_page": False,
            "hide_billing_page": False,
            "hide_integrations_page": False,
            "hide_personal_workspaces": False,
            "allow_user_llm_configuration": True,
            "enable_acp": True,
            "deployment_mode": None,
            "enable_onboarding": False,
            "enable_automations": True,
        },
        "providers_configured": [],
        "maintenance_start_time": None,
        "auth_url": None,
        "recaptcha_site_key": None,
        "faulty_models": [],
        "error_message": None,
        "updated_at": "2026-01-01T00:00:00Z",
        "github_app_slug": None,
        "gitlab_enabled": False,
        "provider_default_hosts": {
            "github": "github.com",
            "gitlab": "gitlab.com",
            "bitbucket": "bitbucket.org",
            "forgejo": "codeberg.org",
            "azure_devops": "dev.azure.com",
        },
        "slack_enabled": False,
        "email_enabled": False,
        "acp_providers": [],
        "jira_dc_oauth_host": None,
        "jira_dc_service_account_managed": False,
        "jira_dc_service_account_email": None,
        "jira_dc_service_account_config_error": None,
        "kind": "WebClientConfig",
    }
