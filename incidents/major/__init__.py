"""Major incident management: declare, mobilise responders, communicate on a cadence, restore,
review, hand off to problem management (DOMAIN.md section 4).

A sub-package of the incidents app (its models carry the `incidents` app label): `models`,
`choices`, `policy` (who may run a major incident), `events` (its timeline), `notify` (its
communications subject), the use cases (`lifecycle`, `responders`, `updates`, `links`, `review`,
`impact`), `tasks`, `admin` and `api`.
"""
