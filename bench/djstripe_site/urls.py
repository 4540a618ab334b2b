"""dj-stripe's URLs where its documentation mounts them: ``/stripe/webhook/<uuid>/``."""

from django.urls import include, path  # type: ignore[import-not-found]

urlpatterns = [path("stripe/", include("djstripe.urls", namespace="djstripe"))]
