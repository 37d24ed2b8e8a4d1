"""Major incident review endpoints (routes in `urlpatterns`, composed by `incidents.major.api.urls`)."""

urlpatterns: list = []
