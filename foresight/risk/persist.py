"""Save and load a trained RiskModel: skops for the estimator, JSON for the model card.

The directory holds ``model.skops`` (the fitted scikit-learn objects, in skops' safe
format: loading runs no code of the file's choosing) and ``model_card.json`` (features,
data, validation metrics, date, the alarm rule). Never pickle. Both files are written to a
temporary directory first and moved into place, so a failed save leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio

from foresight.core.errors import InputError
from foresight.risk.alarm_rule import AlarmRule
from foresight.risk.features import FeatureConfig
from foresight.risk.model import RiskModel

logger = logging.getLogger(__name__)

MODEL_FILE = "model.skops"
CARD_FILE = "model_card.json"
CARD_VERSION = 1
# A model whose vote has unequal weights (zoo.flat_vote: the vote of etb and etlr) is
# saved as version 2: a Foresight before the weights would load it and average its
# members equally, so it refuses the version instead. Both versions load here.
WEIGHTED_CARD_VERSION = 2
CARD_VERSIONS = (CARD_VERSION, WEIGHTED_CARD_VERSION)
# Our own types inside the skops file: trusted by name, nothing else unknown is loaded.
OWN_TYPES = ("foresight.risk.zoo.SoftVote", "foresight.risk.zoo.signed_log1p")
KNOWN_PREFIXES = ("sklearn.", "xgboost.")  # library classes; no numpy or builtins callables


def model_card(model: RiskModel, data: dict[str, Any], created_utc: str) -> dict[str, Any]:
    """The JSON card of a fitted model: what it was trained on and how well it did."""
    return {
        "card_version": (
            WEIGHTED_CARD_VERSION
            if getattr(model.estimator_, "weights", None) is not None
            else CARD_VERSION
        ),
        "created_utc": created_utc,
        "target": f"incident in progress or starting within {model.horizon_s:g} s",
        "horizon_s": model.horizon_s,
        "model": model.model_name_,
        "members": model.chosen_,
        "candidates": list(model.models),
        "metrics": list(model.metrics_),
        "features": list(model.feature_names_),
        "feature_groups": list(model.feature_groups_),
        "feature_config": model._config().to_dict(),
        "alarm_share": model.alarm_share_,
        "alarm_rule": model.alarm_rule_.to_dict(),
        "alarm_training": model.alarm_training_,
        "alarm_selection": model.rule_selection,
        "reference_median": [float(v) for v in model.reference_median_],
        "reference_scale": [float(v) for v in model.reference_scale_],
        "validation": {
            "method": (
                f"blocked time split, up to {model.n_blocks} blocks per file with equal "
                "shares of the incidents, each scored by a model fitted on the others, "
                "gaps on both sides"
                if model.validation == "blocked"
                else f"time-split, {model.n_blocks} blocks per file, gap one horizon"
            ),
            "pr_auc": model.validation_pr_auc_,
            "base_rate": model.validation_base_rate_,
            "per_model_pr_auc": model.validation_,
        },
        "train_rows": model.train_rows_,
        "train_base_rate": model.train_base_rate_,
        "fit_s": model.fit_total_s_,
        "data": data,
        "note": "alerts at onset: the model flags incidents as they start; it does not "
        "promise lead time",
    }


def save(model: RiskModel, directory: str | Path, card: dict[str, Any]) -> Path:
    """Write the model and its card into ``directory`` (created; replaced atomically)."""
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        sio.dump({"estimator": model.estimator_}, staging / MODEL_FILE)
        (staging / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def load(directory: str | Path) -> tuple[RiskModel, dict[str, Any]]:
    """Load a model saved by ``save``; InputError for a missing or foreign directory."""
    path = Path(directory)
    card_path, model_path = path / CARD_FILE, path / MODEL_FILE
    if not card_path.is_file() or not model_path.is_file():
        raise InputError(f"{path}: not a risk model directory (needs {CARD_FILE}, {MODEL_FILE})")
    try:
        card = json.loads(card_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{card_path}: cannot read the model card ({exc})") from None
    if not isinstance(card, dict) or card.get("card_version") not in CARD_VERSIONS:
        raise InputError(f"{card_path}: unknown model card version {card.get('card_version')!r}")
    needed = (
        "metrics",
        "features",
        "feature_groups",
        "feature_config",
        "alarm_share",
        "reference_median",
        "reference_scale",
        "validation",
        "members",
        "model",
    )
    lacking = [k for k in needed if k not in card]
    if lacking:
        raise InputError(f"{card_path}: the card lacks {lacking[0]!r}; retrain the model")
    untrusted = sio.get_untrusted_types(file=model_path)
    foreign = [t for t in untrusted if t not in OWN_TYPES and not t.startswith(KNOWN_PREFIXES)]
    if foreign:
        raise InputError(f"{model_path}: refusing to load unknown type {foreign[0]!r}")
    stored = sio.load(model_path, trusted=untrusted)
    config = FeatureConfig(**card["feature_config"])
    model = RiskModel(card["horizon_s"], card["candidates"], feature_config=config)
    model.metrics_ = list(card["metrics"])
    model.feature_names_ = list(card["features"])
    model.feature_groups_ = list(card["feature_groups"])
    model.chosen_ = list(card["members"])
    model.model_name_ = card["model"]
    model.alarm_share_ = float(card["alarm_share"])
    if "alarm_rule" in card:  # cards before it keep their share rule (see RiskModel.alarms)
        model.alarm_rule_ = AlarmRule.from_dict(card["alarm_rule"])
    model.validation_pr_auc_ = card["validation"]["pr_auc"]
    model.train_base_rate_ = card["train_base_rate"]
    model.reference_median_ = np.asarray(card["reference_median"], dtype=float)
    model.reference_scale_ = np.asarray(card["reference_scale"], dtype=float)
    model.estimator_ = stored["estimator"]
    return model, card
