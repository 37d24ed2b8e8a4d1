"""Major incident responders endpoints (routes in `urlpatterns`, composed by `incidents.major.api.urls`)."""

urlpatterns: list = []
