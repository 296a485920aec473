from .window_scorer import WindowScorer

__all__ = ["WindowScorer"]
