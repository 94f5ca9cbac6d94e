"""HTTP endpoints the runbooks curl: what "the service answers" means for a team.

`HealthEndpoints` is the list a team's quick check curls; `HttpEndpoint` is one endpoint a
diagnostic reads (a health or readiness URL, a third-party dependency's status URL, a
``/metrics`` page), with the credential it needs kept secret.
"""

from __future__ import annotations

import httpx
from prefect.blocks.core import Block
from pydantic import Field, SecretStr

__all__ = ["HealthEndpoints", "HttpEndpoint"]


class HealthEndpoints(Block):
    """URLs whose answers say whether users are served (runbook 000: curl .../health).

    Example:
        ```python
        from blocks import HealthEndpoints

        endpoints = HealthEndpoints.load("BLOCK_NAME")
        print(endpoints.urls)
        ```
    """

    _block_type_name = "Health Endpoints"
    _description = "HTTP health endpoints that say whether users are served."
    _documentation_url = "https://docs.prefect.io/v3/concepts/blocks"

    urls: list[str] = Field(
        description="Health URLs to check, e.g. https://api.example.com/health."
    )
    expected_status: int = Field(200, description="HTTP status a healthy endpoint answers.")
    timeout_seconds: float = Field(5.0, gt=0, description="Seconds to wait for each answer.")


class HttpEndpoint(Block):
    """One HTTP endpoint a diagnostic reads: health, readiness, a dependency, ``/metrics``.

    The bearer token is the only secret: it is sent as ``Authorization: Bearer ...`` and
    scrubbed from every finding. ``headers`` are sent as given and are not secret.

    Example:
        ```python
        from blocks import HttpEndpoint

        endpoint = HttpEndpoint.load("BLOCK_NAME")
        with endpoint.client() as client:
            client.get(endpoint.url)
        ```
    """

    _block_type_name = "HTTP Endpoint"
    _description = "One HTTP endpoint (health, readiness, dependency, /metrics) Firebreak reads."
    _documentation_url = "https://www.python-httpx.org/api/#client"

    url: str = Field(description="Full URL, e.g. https://api.example.com/readyz.")
    name: str = Field("", description="Human name shown in findings, e.g. checkout-api.")
    bearer_token: SecretStr | None = Field(
        None, description="Sent as 'Authorization: Bearer <token>'; kept secret."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra request headers (not secret), e.g. Host."
    )
    expected_status: int | None = Field(
        None, description="The status a healthy endpoint answers; empty means any 2xx."
    )
    timeout_seconds: float = Field(5.0, gt=0, description="Seconds to wait for the answer.")
    verify_tls: bool = Field(True, description="Verify the server's TLS certificate.")

    @property
    def label(self) -> str:
        """How the endpoint appears in findings: its name, else its URL (never the token)."""
        return self.name or self.url

    def is_expected(self, status: int) -> bool:
        """Whether ``status`` is the answer of a healthy endpoint."""
        if self.expected_status is not None:
            return status == self.expected_status
        return 200 <= status < 300

    def client(self) -> httpx.Client:
        """A client with the token, headers and timeout set; close it (``with``) after use."""
        headers = dict(self.headers)
        if self.bearer_token is not None:
            headers["Authorization"] = f"Bearer {self.bearer_token.get_secret_value()}"
        return httpx.Client(
            headers=headers,
            timeout=self.timeout_seconds,
            verify=self.verify_tls,
            follow_redirects=False,
        )
