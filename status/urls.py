"""The public status page under /status/ (no login): page, feed, subscribe, confirm."""

urlpatterns: list = []
