"""The architectures WindowNER.v1 and RelationScorer.v1, as published before the .v2 layers:
WindowNER.v2 and RelationScorer.v2 (models.py) with the .v1 scorers, whose hidden layer's W and
b sit flat in the scorer, as pipelines saved with them hold them."""
from typing import List, Optional, Tuple

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model, zero_init
from thinc.types import Floats2d, Ints2d

from ..models import relation_model, window_ner_model
from .layers import PairScorer_v1, WindowScorer_v1


@registry.architectures("spacy-window-ner.WindowNER.v1")
def WindowNER_v1(
    tok2vec: Model[List[Doc], List[Floats2d]],
    window_size: int = 2,
    hidden_width: int = 128,
    activation: str = "tanh",
    nO: Optional[int] = None,
) -> Model[List[Doc], List[Floats2d]]:
    """WindowNER.v2 with WindowScorer.v1, whose hidden layer's W and b are flat in it, as
    pipelines saved with v1 hold them. Use v2 for new pipelines; the arguments are v2's.

    RETURNS (Model[List[Doc], List[Floats2d]]): The model.
    """
    scorer = WindowScorer_v1(
        nO, window_size=window_size, hidden_width=hidden_width, activation=activation, init_U=zero_init
    )
    return window_ner_model(tok2vec, scorer, nO)


@registry.architectures("spacy-window-ner.RelationScorer.v1")
def RelationScorer_v1(
    tok2vec: Model[List[Doc], List[Floats2d]],
    window_size: int = 1,
    hidden_width: int = 128,
    label_width: int = 16,
    n_distance_buckets: int = 16,
    activation: str = "relu",
    n_entity_labels: Optional[int] = None,
    nO: Optional[int] = None,
) -> Model[Tuple[List[Doc], List[Ints2d]], Floats2d]:
    """RelationScorer.v2 with PairScorer.v1, whose hidden layer's W and b are flat in it, as
    pipelines saved with v1 hold them. Use v2 for new pipelines; the arguments are v2's.

    RETURNS (Model[Tuple[List[Doc], List[Ints2d]], Floats2d]): The model.
    """
    scorer = PairScorer_v1(
        nO, window_size=window_size, hidden_width=hidden_width, n_entity_labels=n_entity_labels,
        label_width=label_width, n_distance_buckets=n_distance_buckets, activation=activation,
    )
    return relation_model(tok2vec, scorer, nO, n_entity_labels)
