from .crf import LinearChainCRF
from .hidden import Hidden
from .output import Output
from .pair_features import PairFeatures
from .pair_scorer import PairScorer
from .window_scorer import WindowScorer
from .windows import Windows

__all__ = ["Hidden", "LinearChainCRF", "Output", "PairFeatures", "PairScorer", "WindowScorer", "Windows"]
