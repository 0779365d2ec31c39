from __future__ import annotations

import marshmallow as ma

_UP_DOWN = ma.validate.OneOf(("up", "down"))


class LivenessSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"example": "ok"})


class ReadinessComponentsSchema(ma.Schema):
    db = ma.fields.String(required=True, validate=_UP_DOWN)
    redis = ma.fields.String(required=True, validate=_UP_DOWN)
    s3 = ma.fields.String(required=True, validate=_UP_DOWN)
    worker = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf(("up", "down", "unknown")),
        metadata={"description": "From the reminder worker's heartbeat; reported, not required for readiness"},
    )
    functions = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(validate=_UP_DOWN),
        required=True,
        metadata={"description": "Each function's liveness, by function name"},
    )


class ReadinessSchema(ma.Schema):
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(("ok", "degraded")))
    components = ma.fields.Nested(ReadinessComponentsSchema, required=True)
