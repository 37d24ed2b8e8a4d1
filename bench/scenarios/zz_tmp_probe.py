from bench.registry import Request, Scenario, Step, register


def walk(ctx):
    if ctx.last_response is not None and ctx.last_response.status_code == 200:
        nxt = ctx.last_response.json().get("next")
        if nxt:
            return nxt
    return "/api/v1/services/?page_size=5"


def create(ctx):
    return Request(path="/api/v1/categories/", method="POST", json={"name": f"probe {ctx.index}"})


register(
    Scenario(
        name="zzprobe",
        default_scale=1,
        seed=lambda scale: {"x": 1},
        steps=[
            Step("walk", walk, requests=30, concurrency=2),
            Step("create", create, requests=10, concurrency=2),
            Step("missing", "/api/v1/nothing/", requests=10),
            Step("slow", "/api/v1/services/?page_size=200", requests=100000, concurrency=2, time_limit=3),
        ],
    )
)
