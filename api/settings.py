"""Typed settings of the control-room API; every field names its environment variable.

Where to listen, the token file and the store are options of ``gaitline api serve`` (each with
its own variable: see the command's help); these are the rest.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

Algorithm = Literal["RS256", "ES256"]


class ApiSettings(BaseSettings):
    """The control-room API (env prefix ``GAITLINE_API_``)."""

    model_config = SettingsConfigDict(env_prefix="GAITLINE_API_", extra="ignore")

    network: str = Field("vtest", min_length=1,
                         description="the camera network the site map and camera list show: a YAML path or the "
                                     "name of a shipped network; env GAITLINE_API_NETWORK")
    webhook_url: str | None = Field(None, pattern=r"^https?://",
                                    description="where a watchlist alert is POSTed as JSON (unset: nowhere); "
                                                "env GAITLINE_API_WEBHOOK_URL")
    webhook_timeout_s: float = Field(5.0, gt=0, le=60, description="longest wait for the webhook to answer; "
                                                                   "env GAITLINE_API_WEBHOOK_TIMEOUT_S")
    timeout_s: float = Field(10.0, gt=0, le=600,
                             description="a connection that sends no complete request (or a body that stalls) "
                                         "for this long is closed; env GAITLINE_API_TIMEOUT_S")
    max_threads: int = Field(32, ge=1, le=1024,
                             description="most requests answered at once (the rest wait); "
                                         "env GAITLINE_API_MAX_THREADS")
    max_connections: int = Field(512, ge=1, le=65535,
                                 description="most open connections (live feeds included); past it new requests "
                                             "get 503; env GAITLINE_API_MAX_CONNECTIONS")
    live_poll_s: float = Field(0.2, gt=0, le=10,
                               description="how often the live feed reads new sightings from the store; "
                                           "env GAITLINE_API_LIVE_POLL_S")
    live_keepalive_s: float = Field(15.0, gt=0, le=300,
                                    description="a live feed with nothing to say sends a comment this often "
                                                "(proxies close silent connections); env GAITLINE_API_LIVE_KEEPALIVE_S")
    oidc_issuer: str | None = Field(None, description="accept JWTs of this OpenID Connect issuer (unset: tokens "
                                                      "from the token file only); env GAITLINE_API_OIDC_ISSUER")
    oidc_audience: str | None = Field(None, description="the audience (client id) the JWTs must carry; "
                                                        "env GAITLINE_API_OIDC_AUDIENCE")
    oidc_jwks: str | None = Field(None, description="the issuer's signing keys: a JWKS file path or its https URL; "
                                                    "env GAITLINE_API_OIDC_JWKS")
    oidc_role_claim: str = Field("roles", min_length=1,
                                 description="claim holding the gaitline role(s) (operator, auditor, admin); a "
                                             "dotted path such as realm_access.roles; "
                                             "env GAITLINE_API_OIDC_ROLE_CLAIM")
    oidc_user_claim: str = Field("preferred_username", min_length=1,
                                 description="claim naming the user in the audit log (sub when missing); "
                                             "env GAITLINE_API_OIDC_USER_CLAIM")
    oidc_algorithms: list[Algorithm] = Field(
        ["RS256", "ES256"], min_length=1,
        description="accepted JWT signature algorithms (asymmetric only), a JSON list; "
                    "env GAITLINE_API_OIDC_ALGORITHMS")
