"""A Prometheus server whose HTTP API Firebreak queries (error rates, latency quantiles)."""

from __future__ import annotations

import httpx
from prefect.blocks.core import Block
from pydantic import Field, SecretStr

__all__ = ["PrometheusTarget"]


class PrometheusTarget(Block):
    """A Prometheus (or compatible: Thanos, Mimir, VictoriaMetrics) HTTP API to query.

    Example:
        ```python
        from blocks import PrometheusTarget

        target = PrometheusTarget.load("BLOCK_NAME")
        with target.client() as client:
            client.get("/api/v1/query", params={"query": "up"})
        ```
    """

    _block_type_name = "Prometheus Target"
    _description = "A Prometheus HTTP API that Firebreak queries for error rates and latency."
    _documentation_url = "https://prometheus.io/docs/prometheus/latest/querying/api/"

    url: str = Field(description="Base URL of the API, e.g. https://prometheus.example.com.")
    name: str = Field("", description="Human name shown in findings, e.g. prod-prometheus.")
    bearer_token: SecretStr | None = Field(
        None, description="Sent as 'Authorization: Bearer <token>' (proxies, Mimir); secret."
    )
    timeout_seconds: float = Field(10.0, gt=0, description="Seconds to wait for each answer.")
    verify_tls: bool = Field(True, description="Verify the server's TLS certificate.")

    @property
    def label(self) -> str:
        """How the server appears in findings: its name, else its URL (never the token)."""
        return self.name or self.url

    def client(self) -> httpx.Client:
        """A client rooted at the API's base URL; close it (``with``) after use."""
        headers = {}
        if self.bearer_token is not None:
            headers["Authorization"] = f"Bearer {self.bearer_token.get_secret_value()}"
        return httpx.Client(
            base_url=self.url.rstrip("/"),
            headers=headers,
            timeout=self.timeout_seconds,
            verify=self.verify_tls,
            follow_redirects=False,
        )
