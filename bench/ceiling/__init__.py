"""The framework ceiling: a bench-only Django app with one trivial table and two trivial endpoints.

Served only by the `ceiling` scenario, through `bench.ceiling.settings` (the product's settings
plus this app and `bench.ceiling.urls`, the product's URLconf plus the two endpoints): the same
gunicorn, middleware, token authentication, permission, throttling and exception handling as the
product's API, in front of the least a DRF create and list can do. The product's own settings
and URLconf never include it.
"""
