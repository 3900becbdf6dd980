"""Defaults live in one place: a command run without flags trains and evaluates what the library does by default."""

from __future__ import annotations

import inspect
from dataclasses import fields

from assistant.categories.evaluation import EvalSettings
from assistant.categories.fewshot import MamlConfig
from assistant.cli.categories import maml_config
from assistant.cli.main import build_parser
from assistant.cli.personalization import training_config
from assistant.personalization.evaluation import EvaluationSetup
from assistant.personalization.head import HeadConfig
from assistant.personalization.maml import MetaTrainConfig
from assistant.personalization.training import train_for_catalog


def parsed(*argv: str):
    return build_parser().parse_args(list(argv))


def field_default(cls, name: str):
    return next(f.default for f in fields(cls) if f.name == name)


def test_personalizer_options_default_to_the_library_configs():
    for args in (parsed("train", "personalizer"), parsed("eval", "personalization", "--json", "out.json")):
        meta, head_options = training_config(args)
        assert meta == MetaTrainConfig()
        assert head_options == {
            "inner_steps": field_default(HeadConfig, "inner_steps"),
            "meta_sgd": field_default(HeadConfig, "meta_sgd"),
        }
    library_shoppers = inspect.signature(train_for_catalog).parameters["shoppers"].default
    assert parsed("train", "personalizer").shoppers == library_shoppers == 5000
    evaluation = parsed("eval", "personalization", "--json", "out.json")
    assert evaluation.train_shoppers == library_shoppers
    assert tuple(evaluation.clicks) == field_default(EvaluationSetup, "clicks")


def test_category_options_default_to_the_library_configs():
    train = parsed("train", "categories")
    assert maml_config(train, shots=train.shots) == MamlConfig()
    evaluation = parsed("eval", "categories", "--images", "d", "--labels", "l.csv", "--json", "o.json")
    assert maml_config(evaluation) == MamlConfig()
    defaults = EvalSettings()
    assert (tuple(evaluation.shots), evaluation.episodes, evaluation.ways, evaluation.queries, evaluation.seed) == (
        tuple(defaults.shots),
        defaults.episodes,
        defaults.ways,
        defaults.queries,
        defaults.seed,
    )
