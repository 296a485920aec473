from .pair_scorer_v1 import PairScorer_v1
from .window_scorer_v1 import WindowScorer_v1

__all__ = ["PairScorer_v1", "WindowScorer_v1"]
