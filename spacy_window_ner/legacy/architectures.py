"""The architectures WindowNER.v1, WindowNER.v2, RelationScorer.v1 and RelationScorer.v2, as
published before the composed scorers of WindowNER.v3 and RelationScorer.v3: the models of
models.py with the published scorers, whose weights sit as pipelines saved with them hold
them. v1's scorers keep the hidden layer's W and b flat in themselves; v2's hold the hidden
layer as a child, beside the output layer's U and c and the features' params."""
from typing import List, Optional, Tuple

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Model
from thinc.types import Floats2d, Ints2d

from ..models import relation_model, window_ner_model
from .layers import PairScorer_v1, PairScorer_v2, WindowScorer_v1, WindowScorer_v2


@registry.architectures("spacy-window-ner.WindowNER.v1")
def WindowNER_v1(
    tok2vec: Model[List[Doc], List[Floats2d]],
    window_size: int = 2,
    hidden_width: int = 128,
    activation: str = "tanh",
    nO: Optional[int] = None,
) -> Model[List[Doc], List[Floats2d]]:
    """WindowNER.v3 with WindowScorer.v1, whose hidden layer's W and b are flat in it, as
    pipelines saved with v1 hold them. Use v3 for new pipelines; the arguments are v3's.

    RETURNS (Model[List[Doc], List[Floats2d]]): The model.
    """
    return window_ner_model(WindowScorer_v1, tok2vec, window_size, hidden_width, activation, nO)


@registry.architectures("spacy-window-ner.WindowNER.v2")
def WindowNER_v2(
    tok2vec: Model[List[Doc], List[Floats2d]],
    window_size: int = 2,
    hidden_width: int = 128,
    activation: str = "tanh",
    nO: Optional[int] = None,
) -> Model[List[Doc], List[Floats2d]]:
    """WindowNER.v3 with WindowScorer.v2, whose hidden layer is a child beside U, c and pad, as
    pipelines saved with v2 hold them. Use v3 for new pipelines; the arguments are v3's.

    RETURNS (Model[List[Doc], List[Floats2d]]): The model.
    """
    return window_ner_model(WindowScorer_v2, tok2vec, window_size, hidden_width, activation, nO)


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
    """RelationScorer.v3 with PairScorer.v1, whose hidden layer's W and b are flat in it, as
    pipelines saved with v1 hold them. Use v3 for new pipelines; the arguments are v3's.

    RETURNS (Model[Tuple[List[Doc], List[Ints2d]], Floats2d]): The model.
    """
    return relation_model(
        PairScorer_v1, tok2vec, window_size, hidden_width, label_width, n_distance_buckets, activation,
        n_entity_labels, nO,
    )


@registry.architectures("spacy-window-ner.RelationScorer.v2")
def RelationScorer_v2(
    tok2vec: Model[List[Doc], List[Floats2d]],
    window_size: int = 1,
    hidden_width: int = 128,
    label_width: int = 16,
    n_distance_buckets: int = 16,
    activation: str = "relu",
    n_entity_labels: Optional[int] = None,
    nO: Optional[int] = None,
) -> Model[Tuple[List[Doc], List[Ints2d]], Floats2d]:
    """RelationScorer.v3 with PairScorer.v2, whose hidden layer is a child beside its other params, as
    pipelines saved with v2 hold them. Use v3 for new pipelines; the arguments are v3's.

    RETURNS (Model[Tuple[List[Doc], List[Ints2d]], Floats2d]): The model.
    """
    return relation_model(
        PairScorer_v2, tok2vec, window_size, hidden_width, label_width, n_distance_buckets, activation,
        n_entity_labels, nO,
    )
