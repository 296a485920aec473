from .crf import LinearChainCRF
from .hidden import Hidden
from .pair_scorer import PairScorer
from .window_scorer import WindowScorer

__all__ = ["Hidden", "LinearChainCRF", "PairScorer", "WindowScorer"]
