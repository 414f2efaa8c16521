"""Where requests go: an OpenAI-compatible endpoint or Azure OpenAI (``EndpointConfig``, its flags declared
once), and how often a request is retried (``RetryPolicy``). The key is read from the environment when
a client is made, never stored. The calls themselves: ``mtbench.core.client``."""

from __future__ import annotations

import math
import os
import random
import urllib.parse
from dataclasses import dataclass
from typing import Any

import openai

from mtbench.core.errors import UserError
from mtbench.core.options import check, nested, option

DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
APIS = ("openai", "azure")
# Azure OpenAI's usual variables (the SDK's own names; OPENAI_API_VERSION is the SDK's older spelling).
AZURE_KEY_ENV = "AZURE_OPENAI_API_KEY"
AZURE_ENDPOINT_ENV = "AZURE_OPENAI_ENDPOINT"
AZURE_VERSION_ENVS = ("AZURE_OPENAI_API_VERSION", "OPENAI_API_VERSION")
# Sent when a self-hosted endpoint (vLLM, transformers serve) needs no key: the SDK insists on one.
NO_KEY = "no-key"


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = option(6, metavar="N", help="retries of a request after 429, 5xx, timeouts and dropped connections")
    base_delay: float = 1.0
    max_delay: float = 60.0

    def __post_init__(self) -> None:
        check(self.max_retries >= 0, f"{{max_retries}} must be 0 or more, got {self.max_retries}")
        if not (0 <= self.base_delay <= self.max_delay):
            raise UserError(f"retry delays must be 0 <= base <= max, got {self.base_delay:g} and {self.max_delay:g}")

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retry`` (0-based).

        A server's ``Retry-After`` wins (it knows its rate window); otherwise full jitter spreads
        many concurrent clients that failed together, so they don't all come back at once.
        """
        if retry_after is not None and math.isfinite(retry_after):
            return min(max(retry_after, 0.0), self.max_delay)
        return rng.uniform(0, min(self.max_delay, self.base_delay * 2**retry))


def bad_base_url(url: str) -> str | None:
    """What is wrong with a base URL, or None. It is http(s)://HOST[...]: ``localhost:8401`` parses as
    scheme 'localhost', no host."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be an http:// or https:// URL with a host, e.g. http://localhost:8000/v1; got {url!r}"
    return None


@dataclass(frozen=True)
class EndpointConfig:
    """Where to send requests. The key is read from the environment variable named here, never stored.

    Checks itself once: the base URL (the one given, else $OPENAI_BASE_URL), a positive timeout.
    """

    base_url: str | None = option(
        None, metavar="URL", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1",
        default_help="$OPENAI_BASE_URL, else the OpenAI API")
    api_key_env: str = option(
        DEFAULT_API_KEY_ENV, metavar="VAR",
        help="environment variable holding the API key (a self-hosted endpoint that takes no key needs none)")
    timeout: float = option(120.0, metavar="SECONDS", help="timeout of each request")
    retry: RetryPolicy = nested(default_factory=RetryPolicy)
    api: str = option("openai", choices=APIS, help="the API's flavour: openai (any OpenAI-compatible endpoint) "
                      "or azure (Azure OpenAI: the model name is the deployment's, the key goes in an api-key "
                      "header, every request carries the api-version)")
    azure_endpoint: str | None = option(
        None, metavar="URL", help="Azure OpenAI resource endpoint, e.g. https://NAME.openai.azure.com (the azure API)",
        default_help=f"${AZURE_ENDPOINT_ENV}")
    api_version: str | None = option(
        None, metavar="VERSION", help="Azure OpenAI api-version, e.g. 2024-10-21 (the azure API)",
        default_help=f"${AZURE_VERSION_ENVS[0]}, else ${AZURE_VERSION_ENVS[1]}")
    azure_deployment: str | None = option(
        None, metavar="NAME", help="Azure OpenAI deployment to call (the azure API)",
        default_help="the model name: a deployment named as its model")

    def __post_init__(self) -> None:
        check(self.timeout > 0 and math.isfinite(self.timeout),
              f"{{timeout}} must be a number of seconds more than 0, got {self.timeout:g}")
        check(self.api in APIS, f"{{api}} must be one of {', '.join(APIS)}; got {self.api!r}")
        azure_only = [f for f in ("azure_endpoint", "api_version", "azure_deployment") if getattr(self, f)]
        check(self.api == "azure" or not azure_only,
              " and ".join(f"{{{f}}}" for f in azure_only) + " need {api} azure")
        if self.api == "azure":
            check(not self.base_url, "{base_url} is for {api} openai; Azure takes {azure_endpoint}")
            if self.azure_endpoint:
                problem = bad_base_url(self.azure_endpoint)
                check(problem is None, f"{{azure_endpoint}} {problem}")
            elif (url := self.resolved_base_url()) and (problem := bad_base_url(url)):
                raise UserError(f"${AZURE_ENDPOINT_ENV} {problem}")
            # Checked here, with the config, so the message names the flag as this command spells it.
            check(bool(self.resolved_base_url()),
                  f"{{api}} azure needs the resource endpoint: {{azure_endpoint}} URL or ${AZURE_ENDPOINT_ENV}")
            check(bool(self.resolved_api_version()),
                  f"{{api}} azure needs an api-version: {{api_version}} VERSION or ${AZURE_VERSION_ENVS[0]}")
        elif self.base_url:
            problem = bad_base_url(self.base_url)
            check(problem is None, f"{{base_url}} {problem}")
        elif (url := self.resolved_base_url()) and (problem := bad_base_url(url)):
            raise UserError(f"$OPENAI_BASE_URL {problem}")

    def resolved_base_url(self) -> str | None:
        if self.api == "azure":
            return self.azure_endpoint or os.environ.get(AZURE_ENDPOINT_ENV) or None
        return self.base_url or os.environ.get("OPENAI_BASE_URL") or None

    def key_env(self) -> str:
        """The variable the key is read from: Azure's own unless another was named."""
        if self.api == "azure" and self.api_key_env == DEFAULT_API_KEY_ENV:
            return AZURE_KEY_ENV
        return self.api_key_env

    def api_key(self) -> str:
        key = os.environ.get(self.key_env())
        if key:
            return key
        if self.api == "azure":
            raise UserError(f"no API key: set ${self.key_env()} (Azure OpenAI)")
        if self.resolved_base_url():
            return NO_KEY
        raise UserError(
            f"no API key: set ${self.api_key_env} (a self-hosted endpoint given by its base URL needs none)"
        )

    def resolved_api_version(self) -> str | None:
        return self.api_version or next((v for e in AZURE_VERSION_ENVS if (v := os.environ.get(e))), None)

    def azure_settings(self) -> tuple[str, str]:
        """Azure's endpoint and api-version, from the flags or the usual variables (UserError if missing)."""
        endpoint, version = self.resolved_base_url(), self.resolved_api_version()
        if not endpoint or not version:
            raise UserError(f"--api azure needs ${AZURE_ENDPOINT_ENV} and ${AZURE_VERSION_ENVS[0]} (or their flags)")
        if problem := bad_base_url(endpoint):
            raise UserError(f"${AZURE_ENDPOINT_ENV} {problem}")
        return endpoint, version

    def sdk_client(self, key: str, **options: Any) -> openai.AsyncOpenAI:
        """The SDK's async client for this endpoint: OpenAI's, or Azure's (deployment path, api-version
        query, api-key header). ``options``: timeout, max_retries, http_client."""
        if self.api == "azure":
            endpoint, version = self.azure_settings()
            return openai.AsyncAzureOpenAI(api_key=key, azure_endpoint=endpoint, api_version=version,
                                           azure_deployment=self.azure_deployment, **options)
        return openai.AsyncOpenAI(api_key=key, base_url=self.resolved_base_url(), **options)
