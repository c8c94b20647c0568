"""What the API serves from: the store, the tokens, the metrics, the gallery, the network, the settings.

One :class:`Api` per process; every route reaches it through ``request.app.state.api``
(:func:`api.deps.get_api`). Tests build one around a temporary store and change ``probe`` or
``settings`` between requests: routes read them per request.
"""

from __future__ import annotations

from typing import Any

from api.auth import TokenBook
from api.exceptions import AuthError
from api.metrics import ApiMetrics
from api.oidc import OidcVerifier
from api.probe import GallerySource, ProbeSettings
from api.settings import ApiSettings
from store.db import Store


class Api:
    """The state behind the routes.

    Args:
        store: the sightings store (searches, audit log, watchlist).
        tokens: the bearer tokens accepted (the file is followed: :class:`api.auth.TokenBook`).
        metrics: the API's metrics container.
        gallery: where clip searches find the gallery (None: clip search answers 503).
        probe: clip search limits.
        network: the camera network (:class:`configs.schema.LoadedNetwork`) the camera list and site
            map show; None lists only the cameras found in the store.
        settings: the rest (live feed, webhook, timeouts); read from the environment when None.
        oidc: a verifier of the identity provider's JWTs, or None.
    """

    def __init__(self, store: Store, tokens: TokenBook, metrics: ApiMetrics, gallery: GallerySource | None = None,
                 probe: ProbeSettings | None = None, network: Any = None, settings: ApiSettings | None = None,
                 oidc: OidcVerifier | None = None) -> None:
        from api.live import LiveHub

        self.store = store
        self.tokens = tokens
        self.metrics = metrics
        self.gallery = gallery
        self.probe = probe or ProbeSettings()
        self.network = network
        self.settings = settings or ApiSettings()
        self.oidc = oidc
        self.live = LiveHub(self)


def oidc_from_settings(settings: ApiSettings) -> OidcVerifier | None:
    """The JWT verifier the settings describe, None when no issuer is set; :class:`AuthError` when half set."""
    if not settings.oidc_issuer:
        return None
    missing = [n for n, v in (("GAITLINE_API_OIDC_AUDIENCE", settings.oidc_audience),
                              ("GAITLINE_API_OIDC_JWKS", settings.oidc_jwks)) if not v]
    if missing:
        raise AuthError(f"GAITLINE_API_OIDC_ISSUER is set, so {' and '.join(missing)} must be too")
    try:
        return OidcVerifier(settings.oidc_issuer, settings.oidc_audience or "", settings.oidc_jwks or "",
                            role_claim=settings.oidc_role_claim, user_claim=settings.oidc_user_claim,
                            algorithms=tuple(settings.oidc_algorithms))
    except (OSError, ValueError) as exc:
        raise AuthError(f"GAITLINE_API_OIDC_JWKS {settings.oidc_jwks}: {exc}") from exc
