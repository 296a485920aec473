from .pair_scorer_v1 import PairScorer_v1
from .pair_scorer_v2 import PairScorer_v2
from .window_scorer_v1 import WindowScorer_v1
from .window_scorer_v2 import WindowScorer_v2

__all__ = ["PairScorer_v1", "PairScorer_v2", "WindowScorer_v1", "WindowScorer_v2"]
