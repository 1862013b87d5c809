"""Response schemas of the forecasting API (``foresight.web.predictions_api``, and the
scores ``foresight.web.models_api`` shares): forecasts, model states, anomalies, episodes.

Every object schema forbids unknown keys; ``foresight.web.responses`` says why.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate


def _numbers() -> fields.List:
    return fields.List(fields.Float(allow_none=True))


class ForecastSchema(Schema):
    timestamps = _numbers()
    step_s = fields.Float(allow_none=True)
    mean = _numbers()
    lower_80 = _numbers()
    upper_80 = _numbers()
    lower_95 = _numbers()
    upper_95 = _numbers()
    anchor_timestamp = fields.Float(
        allow_none=True, metadata={"description": "The newest sample the forecast starts from"}
    )
    anchor_value = fields.Float(allow_none=True)


class ModelScoresSchema(Schema):
    """What a served forecast's accuracy block and a ``/api/models`` row share: each
    candidate's validation score and the live bands' record."""

    candidates = fields.Dict(
        keys=fields.String(),
        values=fields.Float(allow_none=True),
        metadata={"description": "Each candidate's validation MASE"},
    )
    live_coverage_80 = fields.Float(
        allow_none=True,
        metadata={"description": "Share (0-1) of live actuals inside the 80 % band since chosen"},
    )
    live_outcomes = fields.Integer(
        allow_none=True, metadata={"description": "Live actuals scored against the bands"}
    )
    members = fields.List(
        fields.String(),
        metadata={
            "description": "The served median's members (the three best other candidates "
            "on validation, best first); empty for any other model"
        },
    )


class AccuracySchema(ModelScoresSchema):
    model = fields.String(metadata={"description": "The served candidate (ridge, last, ...)"})
    model_words = fields.String(metadata={"description": "The served model in plain words"})
    fast_start = fields.Boolean(
        metadata={
            "description": "Serving the fast start (last "
            "value with an empirical band) until a richer model wins"
        }
    )
    naive_mase = fields.Float(allow_none=True, metadata={"description": "The last value's"})
    interval_method = fields.String(metadata={"description": "How the bands are made"})
    aci_gamma = fields.Float(
        allow_none=True, metadata={"description": "The online ACI step size (Gibbs & Candès)"}
    )
    mase = fields.Float(allow_none=True)
    seasonal_naive_mase = fields.Float(allow_none=True)
    linear_lags_mase = fields.Float(allow_none=True)
    coverage_80 = fields.Float(allow_none=True)
    coverage_95 = fields.Float(allow_none=True)
    n_origins = fields.Integer()
    season_length = fields.Integer(allow_none=True)
    summary = fields.String(metadata={"description": "The accuracy in plain words"})


class ModelStateSchema(Schema):
    metric = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["ok", "warming_up"]))
    message = fields.String(
        allow_none=True, metadata={"description": "Why there is no forecast yet"}
    )
    tier = fields.String()
    model = fields.String(allow_none=True, metadata={"description": "The served candidate"})
    step_s = fields.Float()
    horizon_steps = fields.Integer()
    observed_steps = fields.Integer()
    checked_at = fields.Float(allow_none=True)
    fitted_at = fields.Float(allow_none=True)
    forecast_made_at = fields.Float(allow_none=True)
    accuracy = fields.Nested(
        AccuracySchema,
        required=True,
        allow_none=True,
        metadata={"description": "Latest rolling-origin backtest"},
    )
    forecast = fields.Nested(
        ForecastSchema,
        required=True,
        allow_none=True,
        metadata={"description": "null until the model is fitted"},
    )


class AnomalySchema(Schema):
    timestamp = fields.Float()
    metric = fields.String()
    value = fields.Float()
    score = fields.Float(validate=validate.Range(0, 1))


class PredictionsSchema(Schema):
    generated_at = fields.Float()
    hours = fields.Integer(allow_none=True)
    minutes = fields.Integer(allow_none=True)
    tier = fields.String()
    step_s = fields.Float()
    horizon_steps = fields.Integer()
    refit_every_s = fields.Float()
    forecasts = fields.Dict(keys=fields.String(), values=fields.Nested(ModelStateSchema))
    anomalies = fields.List(fields.Nested(AnomalySchema))


class ScoreSchema(Schema):
    timestamp = fields.Float()
    score = fields.Float()


class EpisodeMetricSchema(Schema):
    metric = fields.String()
    first_ts = fields.Float(metadata={"description": "Its first anomalous point"})
    peak_ts = fields.Float()
    peak_score = fields.Float()
    value = fields.Float(metadata={"description": "The value at the peak"})
    expected = fields.Float(
        allow_none=True, metadata={"description": "The detector's baseline at the peak"}
    )


class EpisodeSchema(Schema):
    id = fields.Integer()
    start = fields.Float(metadata={"description": "Epoch seconds of the first alert"})
    end = fields.Float(metadata={"description": "Epoch seconds of the last anomalous point"})
    duration_s = fields.Float()
    peak_score = fields.Float()
    closed = fields.Boolean()
    metrics = fields.List(fields.String())
    details = fields.List(fields.Nested(EpisodeMetricSchema))


class AnomaliesSchema(Schema):
    threshold = fields.Float()
    anomalies = fields.List(fields.Nested(AnomalySchema))
    scores = fields.Dict(keys=fields.String(), values=fields.Nested(ScoreSchema))
    episodes = fields.List(
        fields.Nested(EpisodeSchema),
        metadata={
            "description": "Consecutive anomalous points across metrics, newest "
            "first, kept in the store"
        },
    )
