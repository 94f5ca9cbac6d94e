"""The public status page Firebreak keeps current: an Atlassian-Statuspage-compatible API."""

from __future__ import annotations

from urllib.parse import urlsplit

from prefect.blocks.core import Block
from pydantic import Field, SecretStr, field_validator

__all__ = ["StatusPage"]


class StatusPage(Block):
    """A Statuspage page reached with an API key (runbook 002's external communication).

    ``api_base_url`` exists so tests and drills can point the client at
    ``sandbox.statuspage_stub.StatuspageStub`` instead of the real service.

    Example:
        ```python
        from blocks.statuspage import StatusPage
        from tasks.statuspage import open_status_incident

        page = StatusPage.load("BLOCK_NAME")
        open_status_incident(page, name="API experiencing issues", status="investigating",
                             body="We are investigating.", components={"cmp1": "major_outage"})
        ```
    """

    _block_type_name = "Status Page"
    _description = "API key and page id of the Atlassian-Statuspage-compatible status page."
    _documentation_url = "https://developer.statuspage.io/"

    api_key: SecretStr = Field(description="Statuspage API key (sent as 'Authorization: OAuth').")
    page_id: str = Field(min_length=1, description="The page's id (Statuspage: API info page).")
    api_base_url: str = Field(
        "https://api.statuspage.io/",
        description="Base URL of the API; point it at a local stub for tests and drills.",
    )
    public_url: str = Field("", description="Where customers read the page, quoted in notices.")
    timeout_seconds: float = Field(10, gt=0, description="How long one request may take.")

    @field_validator("api_base_url")
    @classmethod
    def _must_be_http(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("http", "https"):
            raise ValueError(f"api_base_url must be an http(s) URL, got {value!r}")
        return value.rstrip("/") + "/"

    def url(self, path: str) -> str:
        """The API URL of ``path`` on this page (``incidents``, ``components/<id>``)."""
        return f"{self.api_base_url}v1/pages/{self.page_id}/{path}"

    def auth_headers(self) -> dict[str, str]:
        """Statuspage's ``Authorization: OAuth <key>``; the key is a secret: never log it."""
        return {"Authorization": f"OAuth {self.api_key.get_secret_value()}"}

    @property
    def label(self) -> str:
        name = getattr(self, "_block_document_name", None)
        return f"StatusPage block '{name}'" if name else "the StatusPage block"
