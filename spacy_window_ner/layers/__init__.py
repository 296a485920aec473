from .crf import LinearChainCRF
from .pair_scorer import PairScorer
from .window_scorer import WindowScorer

__all__ = ["LinearChainCRF", "PairScorer", "WindowScorer"]
