from .crf import LinearChainCRF
from .window_scorer import WindowScorer

__all__ = ["LinearChainCRF", "WindowScorer"]
